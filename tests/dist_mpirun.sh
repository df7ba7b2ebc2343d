# Sourced by the distributed tests: `mpirun_np N CMD...` runs CMD on N ranks
# of this machine. CI runs as root on 2 cores, which Open MPI refuses unless
# told (root, more ranks than cores); those settings live here, not in the
# user-facing docs. ASan's leak check is off in the ranks (Open MPI's own
# allocations at exit are not ours), on in the single processes beside them.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OMP_WAIT_POLICY=passive KZ_DIST_TIMEOUT="${KZ_DIST_TIMEOUT:-120}"
# Ranks waiting in a collective yield the core (the machine is shared).
export OMPI_MCA_mpi_yield_when_idle=1
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none
  -x OMP_NUM_THREADS -x OMP_WAIT_POLICY -x KZ_DIST_TIMEOUT
  -x "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
mpirun_np() {
  local n="$1"; shift
  "${MPIRUN[@]}" -np "$n" "$@"
}
have_mpi() { command -v mpirun >/dev/null 2>&1; }
