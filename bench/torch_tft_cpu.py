#!/usr/bin/env python3
"""CPU-time variant of tools/torch_tft_bench.py for bench/tft_speed_cpu.sh: runs the same
script with its clock replaced, twice over, and prints CPU seconds per step of all threads
and of the main thread alone (time.thread_time). With OMP_WAIT_POLICY=passive idle workers
sleep instead of spinning, so on a loaded host the main thread's CPU time stands in for the
wall time a quiet host would give.

usage: torch_tft_cpu.py BATCH HIDDEN HEADS K TAU STEPS THREADS
"""
import os
import runpy
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(here, "..", "tools", "torch_tft_bench.py")
steps = int(sys.argv[6])
marks = []
real_perf = time.perf_counter


def clock():
    marks.append((time.process_time(), time.thread_time()))
    return real_perf()


time.perf_counter = clock
sys.argv = [script] + sys.argv[1:]
runpy.run_path(script, run_name="__main__")
(p0, t0), (p1, t1) = marks[0], marks[-1]
print(f"pytorch tft cpu: {(p1 - p0) / steps:.4f} s/step all threads, "
      f"{(t1 - t0) / steps:.4f} s/step main thread")
