# ctest check of the GPU program's contract (run with cmake -P):
#   without a GPU: exit code 3 and exactly one line on stderr naming the problem;
#   with a GPU: the quick correctness checks against the CPU reference pass (exit code 0).
# Inputs: -DPROGRAM=<mlasim_attention_bench> -DWORK_DIR=<scratch folder>
file(MAKE_DIRECTORY "${WORK_DIR}")
execute_process(COMMAND "${PROGRAM}" --check-only --quick --out "${WORK_DIR}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(STATUS "a GPU is present and the quick checks passed:\n${out}")
  return()
endif()
if(NOT rc EQUAL 3)
  message(FATAL_ERROR "expected exit code 3 (no GPU) or 0, got '${rc}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
string(STRIP "${err}" err_stripped)
string(FIND "${err_stripped}" "\n" newline)
if(NOT newline EQUAL -1)
  message(FATAL_ERROR "expected one line on stderr, got:\n${err}")
endif()
if(NOT err_stripped MATCHES "^mlasim_attention_bench: no CUDA GPU found")
  message(FATAL_ERROR "unexpected message on stderr: ${err}")
endif()
if(NOT "${out}" STREQUAL "")
  message(FATAL_ERROR "expected nothing on stdout without a GPU, got:\n${out}")
endif()
message(STATUS "no GPU: exit code 3 and one line: ${err_stripped}")
