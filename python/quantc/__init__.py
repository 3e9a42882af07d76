"""quantc: Python front end of the quantc quantization compiler.

Debian ships no MLIR Python bindings, so this package is pure Python: it
drives quantc's command-line tools (``quant-opt`` today) and will load
compiled artifacts through the C runtime with ctypes.

    >>> import quantc
    >>> ir = quantc.quant_opt(text, "--qc-insert-observers")
"""

from .tools import QuantcError, find_tool, quant_opt

__all__ = ["QuantcError", "find_tool", "quant_opt"]
