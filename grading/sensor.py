"""The autograder's sensor: inside a grading sandbox, it reports every run of the lab's reference code.

The sandbox shows this file at /run/lab5/sensor.py with its settings (``grader.json``) beside it. Each
kernel, forked by the submission's fork server (``grading/zygote.py``), arms it with :func:`start_kernel`,
and ``helpers/__init__.py`` runs it in every other Python process of the sandbox that imports the lab.

**What it watches.** It loads the lab's package itself: every module of ``helpers`` is compiled from
its file here, and every function of ``helpers.reference`` gets a first statement that calls
``sys.audit("lab5.reference")``, with ``sys.audit`` itself baked into the code as a constant. A
student cannot skip it: code objects cannot be changed and audit hooks cannot be removed, and every
way to get the lab's code without the call is refused and reported as tampering (compiling or
unmarshalling a lab file again, rebuilding a reference function's code object under any name, swapping a
lab function's code, poking memory with ctypes).

**Who asked.** For each run of reference code it reports whether the lab's own plumbing may have asked
for it: a locked cell of the notebook on the stack, verified as the code that cell compiles to, with
only the lab's own code between it and the reference function, verified as the code compiled here
from the file it names, not just by its name, on the kernel's main thread. The grader decides what
that costs (``grading.shortcuts``), knowing which cell was running.

Reports go over a datagram socket to the grader outside the sandbox; when one cannot be sent, the
process ends rather than let reference code run unseen. Nothing the hook uses is looked up at run
time (every name is bound as a default argument), so rewriting this module's globals or closures
changes nothing. Standard library only: it runs before anything else is imported.
"""

import _thread
import ast
import json
import os
import socket
import sys
import time
import types
import warnings

PING = "lab5.sensor.ping"
EVENT = "lab5.reference"
MARKER = "__lab5_sensor_report__"
#: ctypes can rewrite the interpreter's memory, and with it the hooks; students never need it in the kernel
#: (libraries that load themselves through it are imported before the sensor arms there).
REFUSED = frozenset(
    [
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.cdata",
        "ctypes.cdata/buffer",
        "ctypes.addressof",
        "ctypes.call_function",
        "ctypes.string_at",
        "ctypes.wstring_at",
    ]
)
HERE = os.path.dirname(os.path.abspath(__file__))


def _installed():
    box = [False]
    sys.audit(PING, box)  # the installed sensor's audit hook answers by setting box[0]
    return box[0]


def _settings():
    with open(os.path.join(HERE, "grader.json")) as stream:
        return json.load(stream)


def install(kernel=False):
    """Start watching (once per process); ``kernel``: this process is the notebook's kernel."""
    if _installed():
        return
    settings = _settings()
    lab_root = os.path.realpath(settings["lab_root"])
    reference_root = os.path.join(lab_root, "reference") + os.sep
    lab_files = frozenset(
        os.path.join(folder, name) for folder, _, names in os.walk(lab_root) for name in names if name.endswith(".py")
    )
    genuine = {}  # id(code) -> (code, its globals): the lab's own code, compiled here
    reference_codes = set()  # ids of the instrumented functions of helpers.reference
    cells = {}  # the locked cells' compiled statements, made on first use
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def report(
        kind, detail, _send=channel.sendto, _to=settings["sensor_socket"], _dumps=json.dumps, _pid=os.getpid,
        _exit=os._exit, _clock=time.monotonic_ns,
    ):  # fmt: skip
        try:  # the time (the machine's monotonic clock, shared with the grader) places the report in a cell
            _send(_dumps([kind, _pid(), _clock(), detail]).encode()[:60000], _to)
        except Exception:
            _exit(70)  # fail closed: nothing of the reference code may run unreported

    def compile_lab(
        path, _read=open, _compile=compile, _reference=reference_root, _marker=MARKER, _event=EVENT, _ast=ast,
        _warnings=warnings, _isinstance=isinstance, _len=len,
    ):  # fmt: skip
        """One lab module compiled from its file; in reference code, every function starts with the marker call."""
        with _read(path, "rb") as stream:
            tree = _compile(stream.read(), path, "exec", _ast.PyCF_ONLY_AST, dont_inherit=True)
        if path.startswith(_reference):
            for node in _ast.walk(tree):
                if _isinstance(node, (_ast.FunctionDef, _ast.AsyncFunctionDef)):
                    first = node.body[0]
                    docstring = _isinstance(first, _ast.Expr) and _isinstance(first.value, _ast.Constant)
                    call = _ast.Expr(_ast.Call(_ast.Constant(_marker), [_ast.Constant(_event)], []))
                    node.body.insert(1 if docstring and _len(node.body) > 1 else 0, _ast.copy_location(call, first))
            _ast.fix_missing_locations(tree)
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")  # calling a string constant is what the marker looks like
            return _compile(tree, path, "exec", dont_inherit=True)

    def functions(code, _code=types.CodeType, _isinstance=isinstance):
        """Every code object inside ``code`` (itself included), children before their parents."""
        found = []
        for value in code.co_consts:
            if _isinstance(value, _code):
                found += functions(value)
        return [*found, code]

    # The bytecode of every reference function, fixed now: a code object rebuilt with it is refused later.
    reference_bytecode = frozenset(
        code.co_code
        for path in lab_files
        if path.startswith(reference_root)
        for code in functions(compile_lab(path))
        if code.co_name != "<module>"
    )

    def build(
        path, namespace, _compile_lab=compile_lab, _functions=functions, _reference=reference_root, _marker=MARKER,
        _audit=sys.audit, _code=types.CodeType, _genuine=genuine, _codes=reference_codes, _isinstance=isinstance,
        _id=id, _tuple=tuple,
    ):  # fmt: skip
        """A lab module's code, with ``sys.audit`` in place of the marker in reference code, registered as genuine."""
        module = _compile_lab(path)
        reference = path.startswith(_reference)
        done = {}
        for code in _functions(module):  # children first: a code object's constants must be replaced before it is
            consts = _tuple(
                _audit if value == _marker else done.get(_id(value), value) if _isinstance(value, _code) else value
                for value in code.co_consts
            )
            baked = code.replace(co_consts=consts) if reference else code
            done[_id(code)] = baked
            _genuine[_id(baked)] = (baked, namespace)
            if reference and baked.co_name != "<module>":
                _codes.add(_id(baked))
        return done[_id(module)]

    def load(module, _build=build, _exec=exec):
        """``exec_module`` of the lab's loader."""
        _exec(_build(module.__spec__.origin, module.__dict__), module.__dict__)

    def find_spec(
        name, path=None, target=None, _files=lab_files, _real=os.path.realpath, _load=load,
        _namespace=types.SimpleNamespace, _above=(os.path.dirname(lab_root),),
    ):  # fmt: skip
        """The lab's modules, found in the lab's own folder (whatever finder installed it), loaded by :func:`load`."""
        if name != "helpers" and not name.startswith("helpers."):
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path if "." in name else _above)
        if spec is None or spec.origin is None or _real(spec.origin) not in _files:
            return None
        spec.origin = _real(spec.origin)
        spec.loader = _namespace(create_module=lambda spec: None, exec_module=_load)
        return spec

    def locked_cell(frame, _cells=cells, _locked=tuple(settings.get("locked_cells", [])), _ast=ast, _compile=compile):
        """The index of the locked cell whose compiled statement ``frame`` runs, or None."""
        if frame is None:
            return None
        if not _cells:
            from ipykernel.compiler import get_file_name
            from IPython.core.inputtransformer2 import TransformerManager

            for cell in _locked:
                codes = set()
                name = get_file_name(cell["source"])
                for node in _ast.parse(TransformerManager().transform_cell(cell["source"])).body:
                    for flags in (0, _ast.PyCF_ALLOW_TOP_LEVEL_AWAIT):
                        codes.add(_compile(_ast.Module([node], []), name, "exec", flags, dont_inherit=True))
                        if isinstance(node, _ast.Expr):
                            codes.add(_compile(_ast.Interactive([node]), name, "single", flags, dont_inherit=True))
                _cells[cell["index"]] = (name, frozenset(codes))
        code = frame.f_code
        return next(
            (index for index, (name, codes) in _cells.items() if code.co_filename == name and code in codes), None
        )

    def who_asked(
        frame, _genuine=genuine, _codes=reference_codes, _locked=locked_cell, _root=lab_root + os.sep,
        _thread_id=_thread.get_ident, _main=_thread.get_ident(), _pid=os.getpid, _kernel=os.getpid() if kernel else -1,
        _id=id,
    ):  # fmt: skip
        """What the grader needs to know about a run of reference code, from its frame."""
        code = frame.f_code
        caller = frame.f_back
        # Called straight from another reference function: that one, the entry, answers for what is done.
        outer = _genuine.get(_id(caller.f_code)) if caller is not None else None
        inner = outer is not None and outer[0] is caller.f_code and caller.f_globals is outer[1]
        inner = inner and _id(caller.f_code) in _codes
        while caller is not None:
            entry = _genuine.get(_id(caller.f_code))
            if entry is None or entry[0] is not caller.f_code or caller.f_globals is not entry[1]:
                break
            caller = caller.f_back
        return {
            "function": code.co_qualname,
            "file": code.co_filename.removeprefix(_root),
            "genuine": _id(code) in _codes,
            "inner": inner,
            "locked_cell": _locked(caller),
            "main": _thread_id() == _main and _pid() == _kernel,
        }

    def syntax_tree_only(frame, _parse=ast.parse.__code__, _module=vars(ast), _only_ast=ast.PyCF_ONLY_AST):
        """Whether ``frame`` is the genuine ``ast.parse`` asking for a syntax tree (tracebacks read source that way)."""
        return frame.f_code is _parse and frame.f_globals is _module and frame.f_locals.get("flags", 0) & _only_ast

    own = frozenset((compile_lab.__code__, build.__code__, locked_cell.__code__))
    protected = frozenset(function.__code__ for function in (report, build, load, find_spec, locked_cell, who_asked))

    def audit(
        event, args, _report=report, _who=who_asked, _frame=sys._getframe, _own=own, _protected=protected,
        _files=lab_files, _root=lab_root.encode(), _genuine=genuine, _event=EVENT, _ping=PING, _refused=REFUSED,
        _function=types.FunctionType, _code=types.CodeType, _isinstance=isinstance, _bytes=(bytes, bytearray), _id=id,
        _fsdecode=os.fsdecode, _bytecode=reference_bytecode, _syntax_tree=syntax_tree_only, _kernel=kernel,
    ):  # fmt: skip
        if event == "object.__getattr__" or event == "sys._getframe" or event == "open":
            return  # the most frequent events, and ones this hook raises itself
        refused = None
        if event == _event:
            _report("reference", _who(_frame(1)))
        elif event == _ping:
            args[0][0] = True
        elif event == "compile":
            try:
                name = _fsdecode(args[1])
            except TypeError:
                name = None
            if name in _files and _frame(1).f_code not in _own and not _syntax_tree(_frame(1)):
                refused = f"compiling the lab's file {name} again"
        elif event == "exec":
            code = args[0]
            if _isinstance(code, _code) and code.co_filename in _files and _id(code) not in _genuine:
                refused = f"running code under the lab's file name {code.co_filename}"
        elif event == "code.__new__":
            if (args[1] in _files or args[0] in _bytecode) and _frame(1).f_code not in _own:
                refused = f"building code of the lab's {args[2]} again"
        elif event == "marshal.loads":
            if _isinstance(args[0], _bytes) and _root in args[0]:
                refused = "loading compiled code of the lab"
        elif event == "object.__setattr__":
            target = args[0]
            if _isinstance(target, _function) and (target.__code__ in _protected or _id(target.__code__) in _genuine):
                refused = f"replacing {args[1]} of {target.__qualname__}"
        elif event in _refused and _kernel:
            caller = _frame(1)
            while caller.f_back is not None and "/ctypes/" in caller.f_code.co_filename:
                caller = caller.f_back  # ctypes' own frames: name the code that used it
            refused = f"{event} from {caller.f_code.co_qualname} in {caller.f_code.co_filename}"
        if refused:
            _report("tamper", refused)
            raise RuntimeError(f"the autograder's sandbox does not allow this: {refused}")

    sys.addaudithook(audit)
    sys.meta_path.insert(0, types.SimpleNamespace(find_spec=find_spec))


def start_kernel(arguments):
    """Arm the sensor in this process, a notebook's kernel forked by the fork server, and run ipykernel."""
    import runpy

    install(kernel=True)
    sys.argv = ["ipykernel_launcher", *arguments]
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


if __name__ == "lab5_sensor":  # runpy.run_path from helpers/__init__.py in any other sandboxed process
    install()
