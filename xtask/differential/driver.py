"""Long-lived reference for `cargo xtask differential`: QEMU's own QAPI front end.

Usage: driver.py QEMU_DIR, where QEMU_DIR holds scripts/qapi and
tests/qapi-schema/test-qapi.py.  Reads one schema path per line on stdin
(relative to the current directory, as test-qapi.py is given them) and
answers each with one JSON line: {"out": dump, "err": error text,
"failed": bool, "crash": traceback summary or null}.  "failed" is true
exactly when QEMU's front end raised a QAPIError; any other exception is
a crash of the front end, not a verdict on the schema.
"""

import importlib.util
import io
import json
import os
import sys
import traceback


def load_harness(qemu_dir):
    sys.path.insert(0, os.path.join(qemu_dir, 'scripts'))
    path = os.path.join(qemu_dir, 'tests', 'qapi-schema', 'test-qapi.py')
    spec = importlib.util.spec_from_file_location('test_qapi', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(harness, qapi_error, path):
    # test-qapi.py prints the dump on stdout; capture it as test_and_diff does.
    captured = io.StringIO()
    real_stdout = sys.stdout
    sys.stdout = captured
    result = {'out': '', 'err': '', 'failed': False, 'crash': None}
    try:
        harness.test_frontend(path)
    except qapi_error as err:
        result['err'] = str(err) + '\n'
        result['failed'] = True
    except Exception as err:  # a front-end bug, e.g. an assertion
        frames = traceback.extract_tb(err.__traceback__)
        where = frames[-1] if frames else None
        result['crash'] = '%s: %s%s' % (
            type(err).__name__, err,
            ' (%s:%d)' % (os.path.basename(where.filename), where.lineno)
            if where else '')
    finally:
        sys.stdout = real_stdout
    result['out'] = captured.getvalue()
    return result


def main():
    harness = load_harness(sys.argv[1])
    from qapi.error import QAPIError
    out = sys.stdout
    for line in sys.stdin:
        path = line.rstrip('\n')
        if not path:
            continue
        out.write(json.dumps(run_one(harness, QAPIError, path)) + '\n')
        out.flush()


if __name__ == '__main__':
    main()
