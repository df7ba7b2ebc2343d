# The CPU GBDT's fast paths (flattened predictor, compact histograms, radix
# binning, missing-only splits, concurrent multi-class trees) against the
# plain versions: tests/test_gbdt_perf.c.
kz_add_c_test_exe(test_gbdt_perf test_gbdt_perf.c)
add_test(NAME gbdt/fast_paths COMMAND test_gbdt_perf)
