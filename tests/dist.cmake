# Data-parallel training (engine/dist, docs/DISTRIBUTED.md): the
# communicators across processes (MPI, file and TCP rendezvous), NCCL in a
# world of one (77 without a GPU), and `mpirun -np 2 kaizen train` against
# one process (tests/dist_*.sh; the MPI cases skip without mpirun).
kz_add_c_test_exe(test_comm test_comm.c)
add_test(NAME dist/comm COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/dist_comm.sh $<TARGET_FILE:test_comm>)
set_tests_properties(dist/comm PROPERTIES TIMEOUT 300 LABELS dist)
add_test(NAME dist/nccl_one COMMAND test_comm nccl)
set_tests_properties(dist/nccl_one PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE}
                     LABELS "cuda;dist")
add_test(NAME dist/gbdt COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/dist_gbdt.sh $<TARGET_FILE:kaizen>)
set_tests_properties(dist/gbdt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS dist)
add_test(NAME dist/nn COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/dist_nn.sh $<TARGET_FILE:kaizen>)
set_tests_properties(dist/nn PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS dist)
get_filename_component(KZ_DIST_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME dist/models
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/dist_models.sh $<TARGET_FILE:kaizen> ${KZ_DIST_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt)
set_tests_properties(dist/models PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS dist)
add_test(NAME dist/ckpt COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/dist_ckpt.sh $<TARGET_FILE:kaizen>)
set_tests_properties(dist/ckpt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS dist)
