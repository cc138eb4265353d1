#!/usr/bin/env bash
# The GPU check, run on the device machine (NVIDIA, with CUDA PyTorch, CMake and ninja, no
# network, no OpenCV): builds cfx against that PyTorch's LibTorch with the dependencies packed
# by prepare.sh (carried as .devdeps.tar.xz), runs the *_CUDA tests and a few CPU tests of the
# methods (does the code build and behave on LibTorch 2.x?), then times methods on CPU and
# GPU. Everything it prints also goes to $OUT/ (logs, benchmark table).
#   scripts/device/check.sh [tests-filter]
set -uo pipefail
cd "$(dirname "$0")/../.."
# It deletes test sources from its tree (below): only ever on the device's copy.
command -v nvidia-smi >/dev/null || { echo "check.sh: for the GPU machine only"; exit 2; }
OUT=${OUT:-/tmp/cfx-device-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/check.log") 2>&1
t0=$(date +%s)
stamp() { echo "== $(( $(date +%s) - t0 ))s: $*"; }
deps=/opt/cfxdeps
stamp "unpack"
mkdir -p $deps && tar -C $deps -xJf .devdeps.tar.xz || exit 1
export LD_LIBRARY_PATH=$deps/lib:${LD_LIBRARY_PATH:-}
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
nproc; command -v c++ g++ ninja; g++ --version | head -1; cmake --version | head -1

gen=Ninja keep_going=(-k 0)
command -v ninja >/dev/null || { gen="Unix Makefiles"; keep_going=(-k); }
stamp "googletest"
if [ ! -f $deps/gtest/lib/libgtest.a ] && [ ! -f $deps/gtest/lib64/libgtest.a ]; then
  cmake -S $deps/googletest -B /tmp/gtest-build -G "$gen" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX=$deps/gtest -DCMAKE_POSITION_INDEPENDENT_CODE=ON >/dev/null &&
    cmake --build /tmp/gtest-build --target install >/dev/null || exit 1
fi

# Only the tests this check runs: the device has no Fashion-MNIST training split, npm or
# chromium, and fewer files build faster.
keep='tests/main.cpp tests/helpers.cpp tests/cli/cli_runner.cpp tests/methods/test_cuda.cpp
      tests/methods/test_pixel.cpp tests/methods/test_inversion.cpp tests/methods/test_fido.cpp
      tests/methods/test_aip_search.cpp'
for f in $(find tests -name '*.cpp'); do
  case " $(echo $keep) " in *" $f "*) ;; *) rm -f "$f" ;; esac
done

configure() {  # C++ standard, extra flags...
  local std=$1; shift
  cmake -S . -B build-cuda "$@" -G "$gen" -DCMAKE_BUILD_TYPE=Release -DCFX_BUILD_BENCH=OFF \
    -DCMAKE_CXX_STANDARD="$std" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$deps/gtest" \
    -DOpenCV_DIR=$deps/cmake -DCLI11_DIR=$deps/cmake -Dnlohmann_json_DIR=$deps/cmake \
    -DCFX_DEVICE_IMGCODECS_SOURCE="$PWD/scripts/device/imgcodecs_png.cpp" \
    -DZLIB_INCLUDE_DIR=$deps/include -DZLIB_LIBRARY=$deps/lib/libz.so \
    -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/configure.log" 2>&1
}
# Which C++ standard this LibTorch's headers accept: one parse of torch/torch.h.
stamp "C++ standard"
std=17
incs=$(python3 -c 'from torch.utils.cpp_extension import include_paths as p; print(" ".join("-I"+i for i in p()))')
echo '#include <torch/torch.h>' > /tmp/std.cpp
g++ -std=c++17 -fsyntax-only $incs /tmp/std.cpp > "$OUT/std17.log" 2>&1 ||
  { std=20; grep -m3 error "$OUT/std17.log"; }
stamp "configure (C++$std)"
extra=()
if ! configure $std; then
  tail -15 "$OUT/configure.log"
  stamp "configure again with the toolkit's NVTX3"
  extra=(-DUSE_SYSTEM_NVTX=ON -Dnvtx3_dir=/usr/local/cuda/include/nvtx3)
  rm -rf build-cuda
  configure $std "${extra[@]}" || { tail -30 "$OUT/configure.log"; exit 1; }
fi
grep -i -E 'cuda|torch' "$OUT/configure.log" | head -10
stamp "build cfx and the tests (C++$std)"
cmake --build build-cuda -j "$(nproc)" --target cfx_cli cfx_tests -- "${keep_going[@]}" \
  > "$OUT/build.log" 2>&1
rc=$?
grep -E 'error|Error' "$OUT/build.log" | head -60
[ $rc -eq 0 ] || { stamp "build failed"; exit 1; }

stamp "tests"
export CFX_FASHION_MNIST_DIR=$deps/data/fashion-mnist
timeout 180 build-cuda/cfx_tests \
  --gtest_filter="${1:-*_CUDA*:Pixel.*:BatchedAdam.*:Priors.*:Terms.*:Presets.*:Fido.*:AipSearch.*}" \
  --gtest_output=json:"$OUT/tests.json" 2>&1 | tail -150

stamp "benchmarks"
cfx=build-cuda/cfx
# One row per run: what, where, threads, wall seconds, cfx's own summary line.
bench() {  # label device threads command args...
  local label=$1 dev=$2 th=$3; shift 3
  local s=$EPOCHREALTIME line
  # The device's time is short: leave room to bring the logs back.
  (( $(date +%s) - t0 < ${CFX_CHECK_DEADLINE:-520} )) || { echo "skipped: $label $dev"; return; }
  line=$(timeout 90 $cfx "$@" -q --threads "$th" --device "$dev" --out /tmp/bench-out 2>&1 | head -1)
  printf '%-30s %-5s %3s thr  wall %7.2fs  %s\n' "$label" "$dev" "$th" \
    "$(awk "BEGIN{print $EPOCHREALTIME - $s}")" "$line" | tee -a "$OUT/bench.txt"
}
fm="--data fashion-mnist --split test"
for dev in cuda cpu; do
  th=$([ $dev = cpu ] && nproc || echo 1)
  bench "disc fashion-mnist n256 b64" $dev $th explain --model models/fashion-mnist-cnn-duq.pt $fm --n 256 --method disc --batch-size 64
  bench "pixel fashion-mnist n256 b64" $dev $th explain --model models/fashion-mnist-cnn.pt $fm --n 256 --method pixel --batch-size 64
  bench "dip fashion-mnist n64 b64" $dev $th explain --model models/fashion-mnist-cnn.pt $fm --n 64 --method dip --batch-size 64
  bench "aip shapes n64 b64" $dev $th explain --model models/shapes-cnn.pt --data shapes --n 64 --method aip --batch-size 64
done
bench "fido fashion-mnist n32 b32" cuda 1 saliency --model models/fashion-mnist-cnn.pt $fm --n 32 --batch-size 32
bench "fido fashion-mnist n8 b8" cpu "$(nproc)" saliency --model models/fashion-mnist-cnn.pt $fm --n 8 --batch-size 8
stamp "done"
