# Thin wrappers over CMake. The two commands in the README:
#   make demo   installs dependencies, builds, and runs the main job on the CPU
#   make test   installs dependencies, builds (release + ASan/UBSan + fuzz) and runs every test
#   make fuzz   builds the libFuzzer harnesses and runs each for FUZZ_SECONDS
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# make fuzz: seconds per fuzzer, fuzzers run at once, which ones (default all)
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZERS      ?=
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build asan fuzz-build fuzz demo test test-release test-asan test-fuzz format \
        format-check clean

all: build

deps:
	tools/install-deps.sh --with-test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

# Sanitizers and the CUDA runtime do not mix (ASan reserves the address range
# the driver wants), so the sanitizer build covers the CPU paths only.
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKZ_SANITIZE=ON -DKZ_CUDA=OFF
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# libFuzzer harnesses (fuzz/, docs/TESTING.md "Fuzzing"): clang, CPU only.
fuzz-build: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKZ_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZERS)

demo: build
	tools/demo.sh $(BUILD)

test: test-release test-asan test-fuzz

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

# Each fuzzer for a short bounded time (KZ_FUZZ_CI_SECONDS, 15 s) plus the
# saved regression inputs, as ctests of the fuzz build.
test-fuzz: fuzz-build
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j$(JOBS) -L fuzz

format:
	git ls-files '*.c' '*.h' '*.cu' '*.cuh' | xargs clang-format -i

format-check:
	git ls-files '*.c' '*.h' '*.cu' '*.cuh' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
