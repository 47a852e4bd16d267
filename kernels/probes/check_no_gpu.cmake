# ctest script: on a machine without a GPU, `mlasim_probes all` must print exactly one line naming the problem
# and exit with code 3 (kernels/README.md). Run as: cmake -DPROBES=<path> -DOUT=<dir> -P check_no_gpu.cmake
# On a machine with a GPU the probe would really run, so the check does not apply there and passes with a note
# (as expect_no_gpu.cmake does; cmake_language(EXIT 77), a real skip, needs CMake 3.29, newer than the 3.25 the
# main build requires).
find_program(NVIDIA_SMI nvidia-smi)
if(NVIDIA_SMI)
  execute_process(COMMAND ${NVIDIA_SMI} -L RESULT_VARIABLE smi_rc OUTPUT_VARIABLE smi_out ERROR_QUIET)
  if(smi_rc EQUAL 0 AND smi_out MATCHES "GPU [0-9]")
    message("a GPU is present (${smi_out}); the no-GPU check does not apply")
    return()
  endif()
endif()
execute_process(COMMAND ${PROBES} all --out ${OUT} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${err}" err_stripped)
if(NOT rc EQUAL 3)
  message(FATAL_ERROR "expected exit code 3 without a GPU, got '${rc}'\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT err_stripped MATCHES "^mlasim_probes: no CUDA GPU found \\(.*\\); this program measures kernels on a GPU and needs one$")
  message(FATAL_ERROR "unexpected message: '${err}'")
endif()
if(err_stripped MATCHES "\n" OR NOT out STREQUAL "")
  message(FATAL_ERROR "expected exactly one line on stderr and nothing on stdout\nstdout: ${out}\nstderr: ${err}")
endif()
message("ok: exit code 3 and one line: ${err_stripped}")
