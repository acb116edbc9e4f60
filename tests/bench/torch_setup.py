"""torch_setup.py - the set-up that the PyTorch references of tests/bench/
share with our drivers (tests/bench/bench_env.h), and a record of it.

    import torch_setup
    setup = torch_setup.configure(threads)    # before any tensor work

configure() sets the intra-op threads (torch.set_num_threads) and the
denormal mode: flushed (torch.set_flush_denormal(True), which sets the FTZ
and DAZ bits of the calling thread's MXCSR, as bench_env.h does) unless
TFS_BENCH_DENORMALS=keep.  The OpenMP threads that PyTorch and OpenBLAS share
are created by the first parallel operation and copy the main thread's
MXCSR, so configure() must come first; it then checks the mode in every
thread by multiplying a large tensor of denormals by 1 (an operation split
across the threads): all zeros means every thread flushes, none means none
does, some means some threads do not ("mixed").

It returns a dict for the benchmark JSON: the BLAS library that PyTorch's
float32 matmuls call and its OpenBLAS core, threads, OMP_WAIT_POLICY,
denormal mode.  Debian's python3-torch is built with BLAS_INFO=generic:
libtorch_cpu.so calls sgemm_ of libblas.so.3, which is whatever the
libblas.so.3 alternative (or LD_LIBRARY_PATH) selects; its oneDNN (MKL-DNN)
serves bfloat16 and convolutions, not a float32 nn.Linear.  The BLAS file
and its core are read from the running process (/proc/self/maps and
OpenBLAS's openblas_get_corename), not assumed.
"""
import ctypes
import os

import torch


def _mapped(fragment):
    """Paths of the shared objects mapped into this process whose name
    contains fragment."""
    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "/" in p and fragment in os.path.basename(p):
                paths.add(os.path.realpath(p))
    return sorted(paths)


def blas_info():
    torch.ones(2, 2) @ torch.ones(2, 2)           # make sure the BLAS is loaded
    info = {"blas_libraries": _mapped("libblas.so") + _mapped("libopenblas")}
    for path in _mapped("libopenblas"):
        lib = ctypes.CDLL(path)
        for fn in ("openblas_get_corename", "openblas_get_config"):
            getattr(lib, fn).restype = ctypes.c_char_p
        info["blas"] = lib.openblas_get_config().decode()
        info["openblas_core"] = lib.openblas_get_corename().decode()
        break
    else:
        info["blas"], info["openblas_core"] = "not OpenBLAS", None
    return info


def denormal_mode():
    x = torch.full((1 << 20,), 1e-40)            # 1e-40 < 2^-126: a denormal
    zeros = int(((x * 1.0) == 0).sum())
    return "flush" if zeros == x.numel() else "keep" if zeros == 0 else "mixed"


def configure(threads):
    flush = os.environ.get("TFS_BENCH_DENORMALS") != "keep"
    torch.set_flush_denormal(flush)
    torch.set_num_threads(threads)
    setup = {"impl": f"PyTorch {torch.__version__}", **blas_info(), "threads": torch.get_num_threads(),
             "wait_policy": os.environ.get("OMP_WAIT_POLICY") or "default", "denormals": denormal_mode()}
    return setup
