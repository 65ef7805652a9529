# The installed C++ client, used from outside the tree (ctest runs this with
# cmake -P): `cmake --install` of this build into a fresh prefix, then a
# project that does find_package(Baton) and links Baton::client is
# configured, built and run, and the same program is built again with
# pkg-config's flags alone.
#   -DBUILD_DIR=<Baton's build>  -DSOURCE_DIR=<tests/client/install>  -DWORK_DIR=<scratch>
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(installed include/baton/client.h include/baton/task.h include/baton/v1/session.grpc.pb.h
                  lib/cmake/Baton/BatonConfig.cmake lib/pkgconfig/baton.pc)
  if(NOT EXISTS ${prefix}/${installed})
    message(FATAL_ERROR "not installed: ${installed}")
  endif()
endforeach()
if(EXISTS ${prefix}/include/server OR EXISTS ${prefix}/bin/batond)
  message(FATAL_ERROR "the server is installed with the client package")
endif()

# find_package(Baton), with the project's own C++ standard left unset.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
message(STATUS "find_package(Baton): ${last_output}")

# pkg-config.
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
execute_process(COMMAND pkg-config --cflags --libs baton
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs baton failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(c++ ${SOURCE_DIR}/main.cc -o ${WORK_DIR}/consumer-pc ${flags} -pthread)
run(${WORK_DIR}/consumer-pc)
message(STATUS "pkg-config: ${last_output}")
