# lit configuration for quantc's FileCheck tests.
import os

import lit.formats

config.name = "quantc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".py", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quantc_obj_root, "test")
config.excludes = ["Inputs", "Unit", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

# Our tools first, then LLVM 22's FileCheck, not, split-file.
path = os.pathsep.join([config.quantc_tools_dir, config.llvm_tools_dir,
                        config.environment.get("PATH", os.environ.get("PATH", ""))])
config.environment["PATH"] = path
config.environment["PYTHONPATH"] = os.path.join(config.quantc_src_root, "python")
if config.sanitized:
    # Any UBSan report fails the test, with a stack to act on.
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%shared_data", config.shared_data_dir))
config.substitutions.append(("%quantc_src", config.quantc_src_root))

# GPU lowerings are checked by ptxas wherever the CUDA toolkit is installed.
if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))
if os.path.isdir(config.shared_data_dir):
    config.available_features.add("shared-data")

if config.sanitized:
    # LLVM's BumpPtrAllocator poisons each new slab under ASan. quantc's
    # instrumented code inlines it (e.g. building #qc.external storage) while
    # libMLIR, not instrumented, allocates from the same slabs without
    # unpoisoning, so ASan would flag MLIR's own writes there. Manual
    # poisoning is turned off; ordinary heap checking stays.
    config.environment["ASAN_OPTIONS"] = "allow_user_poisoning=0"
