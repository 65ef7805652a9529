# The installed C++ client, used from outside the tree (ctest runs this with
# cmake -P): `cmake --install` of this build into a fresh prefix, then a
# project that does find_package(Baton) and links Baton::client is
# configured, built and run, and the same program is built again with
# pkg-config's flags alone. Each build runs twice: against a batond of this
# build (started on a free loopback port, stopped at the end), where it asks
# its health and takes a lock, and with no address (UNAVAILABLE expected).
#   -DBUILD_DIR=<Baton's build>  -DSOURCE_DIR=<tests/client/install>  -DWORK_DIR=<scratch>
cmake_minimum_required(VERSION 3.25)

set(batond_pid "")

# fail(message...): stops batond if it runs, then fails the test.
function(fail)
  if(batond_pid)
    execute_process(COMMAND kill -TERM ${batond_pid})
  endif()
  message(FATAL_ERROR ${ARGV})
endfunction()

# alive(pid var): whether process pid runs (a zombie does not).
function(alive pid var)
  set(${var} FALSE PARENT_SCOPE)
  if(EXISTS /proc/${pid}/stat)
    file(READ /proc/${pid}/stat stat)
    if(NOT stat MATCHES "\\) Z ")
      set(${var} TRUE PARENT_SCOPE)
    endif()
  endif()
endfunction()

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    fail("failed (${result}): ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(installed include/baton/client.h include/baton/task.h include/baton/v1/session.grpc.pb.h
                  include/baton/third_party/grpc/health/v1/health.grpc.pb.h
                  include/baton/third_party/grpc/health/v1/health.pb.h
                  lib/cmake/Baton/BatonConfig.cmake lib/pkgconfig/baton.pc)
  if(NOT EXISTS ${prefix}/${installed})
    fail("not installed: ${installed}")
  endif()
endforeach()
if(EXISTS ${prefix}/include/grpc)
  fail("installed into include/grpc/, gRPC's own folder (a system gRPC may share the prefix)")
endif()
if(EXISTS ${prefix}/include/server OR EXISTS ${prefix}/bin/batond)
  fail("the server is installed with the client package")
endif()

# batond from the build, on a free port (127.0.0.1:0; it logs the one it got).
# `timeout` ends it even if this script is killed before it stops it.
set(batond ${BUILD_DIR}/server/batond/batond)
if(NOT EXISTS ${batond})
  fail("batond not built: ${batond}")
endif()
set(batond_log ${WORK_DIR}/batond.log)
execute_process(
  COMMAND sh -c "timeout 280 \"$0\" --listen=127.0.0.1:0 --data_dir=\"$1\" --grace=1s \
                 </dev/null >/dev/null 2>\"$2\" & echo $!"
          ${batond} ${WORK_DIR}/batond-data ${batond_log}
  OUTPUT_VARIABLE batond_pid OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE result)
if(NOT result EQUAL 0 OR NOT batond_pid)
  fail("could not start ${batond}")
endif()
set(address "")
foreach(attempt RANGE 200)  # up to 20 s
  file(READ ${batond_log} log)
  if(log MATCHES "listening on ([0-9.]+:[0-9]+)")
    set(address ${CMAKE_MATCH_1})
    break()
  endif()
  alive(${batond_pid} running)
  if(NOT running)
    set(batond_pid "")
    fail("batond exited at start:\n${log}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 0.1)
endforeach()
if(NOT address)
  fail("batond did not say where it listens within 20 s:\n${log}")
endif()
message(STATUS "batond (pid ${batond_pid}) on ${address}")

# find_package(Baton), with the project's own C++ standard left unset.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer ${address})
message(STATUS "find_package(Baton), with batond: ${last_output}")
run(${WORK_DIR}/build/consumer)
message(STATUS "find_package(Baton), no batond: ${last_output}")

# pkg-config.
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
execute_process(COMMAND pkg-config --cflags --libs baton
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  fail("pkg-config --cflags --libs baton failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(c++ ${SOURCE_DIR}/main.cc -o ${WORK_DIR}/consumer-pc ${flags} -pthread)
run(${WORK_DIR}/consumer-pc ${address})
message(STATUS "pkg-config, with batond: ${last_output}")
run(${WORK_DIR}/consumer-pc)
message(STATUS "pkg-config, no batond: ${last_output}")

# Stop batond (SIGTERM: it drains, then exits 0).
execute_process(COMMAND kill -TERM ${batond_pid})
foreach(attempt RANGE 100)  # up to 10 s
  alive(${batond_pid} running)
  if(NOT running)
    break()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 0.1)
endforeach()
if(running)
  execute_process(COMMAND kill -KILL ${batond_pid})
  message(FATAL_ERROR "batond did not stop within 10 s of SIGTERM")
endif()
