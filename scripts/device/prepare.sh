#!/usr/bin/env bash
# Packs what a CUDA build of cfx needs on the GPU machine (scripts/device/check.sh) and that
# machine lacks: OpenCV core/imgproc headers and libraries with the libraries they load (not
# imgcodecs: see imgcodecs_png.cpp), CLI11 and nlohmann-json headers, GoogleTest's source and
# the Fashion-MNIST test split, all from this Debian machine, into .devdeps.tar.xz (ignored by
# git). Run here, then pass .devdeps.tar.xz in the device run's carry list.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{include/opencv4/opencv2,lib,cmake,data/fashion-mnist}
cv=/usr/include/opencv4/opencv2
cp -r $cv/core $cv/core.hpp $cv/imgproc $cv/imgproc.hpp $cv/imgcodecs $cv/imgcodecs.hpp \
  $cv/opencv_modules.hpp "$stage/include/opencv4/opencv2/"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/zlib.h /usr/include/zconf.h \
  "$stage/include/"
cp -r /usr/src/googletest "$stage/googletest"
cp /usr/share/datasets/fashion-mnist/t10k-* "$stage/data/fashion-mnist/"
# The libraries OpenCV core and imgproc load, less the C and C++ runtimes the machine has.
libdir=/usr/lib/x86_64-linux-gnu
for l in core imgproc; do
  cp -L "$libdir/libopencv_$l.so.406" "$stage/lib/"
  ln -sf "libopencv_$l.so.406" "$stage/lib/libopencv_$l.so"
  ldd "$libdir/libopencv_$l.so.406" | awk '$3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  case "$name" in libc.so*|libm.so*|libstdc++*|libgcc_s*|ld-linux*|libpthread*|libdl.so*|librt.so*) continue ;; esac
  cp -L "$path" "$stage/lib/$name"
done
cp -L "$libdir/libz.so.1" "$stage/lib/libz.so.1" && ln -sf libz.so.1 "$stage/lib/libz.so"
strip --strip-unneeded "$stage"/lib/*.so* 2>/dev/null || true
# Package configs that make find_package() find the above where they will be unpacked.
cat > "$stage/cmake/OpenCVConfig.cmake" <<'CMAKE'
get_filename_component(_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(OpenCV_INCLUDE_DIRS "${_root}/include/opencv4")
add_library(cfx_device_imgcodecs STATIC "${CFX_DEVICE_IMGCODECS_SOURCE}")
target_include_directories(cfx_device_imgcodecs PUBLIC "${OpenCV_INCLUDE_DIRS}" "${_root}/include")
target_link_libraries(cfx_device_imgcodecs PUBLIC "${_root}/lib/libopencv_core.so" "${_root}/lib/libz.so")
set(OpenCV_LIBS "${_root}/lib/libopencv_core.so" "${_root}/lib/libopencv_imgproc.so" cfx_device_imgcodecs)
set(OpenCV_FOUND TRUE)
CMAKE
cat > "$stage/cmake/CLI11Config.cmake" <<'CMAKE'
get_filename_component(_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
add_library(CLI11::CLI11 INTERFACE IMPORTED)
set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_root}/include")
CMAKE
cat > "$stage/cmake/nlohmann_jsonConfig.cmake" <<'CMAKE'
get_filename_component(_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_root}/include")
CMAKE
tar -C "$stage" -cJf .devdeps.tar.xz .
du -h .devdeps.tar.xz
