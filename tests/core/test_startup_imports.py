"""A command imports what it uses: the plugins are loaded by every command line, so a heavy
library imported at the top of a plugin module or of ``marketd.sdk`` is paid by ``marketd --help``
and by every one-file ``marketd process``. These run the real command line in a fresh interpreter
and look at what it imported."""
import json
import subprocess
import sys

from tests.conftest import write_config

HEAVY = ["pandas", "numpy", "sqlite_utils", "httpx", "pypdf", "apscheduler", "watchdog", "openpyxl", "xlsxwriter",
         "fpdf", "jsonschema", "asyncssh", "cryptography"]
PROBE = """
import json, sys
from marketd.cli import main
sys.argv = ["marketd", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in %r if m in sys.modules)), file=sys.stderr)
""" % (HEAVY,)


def imported_by(*args) -> list[str]:
    res = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    return json.loads(res.stderr.strip().splitlines()[-1])


def test_help_and_plugins_import_no_heavy_library(tmp_path):
    assert imported_by("--help") == []
    cfg = write_config(tmp_path / "inst")
    assert imported_by("--config", str(cfg), "plugins") == []


def test_processing_a_catalog_imports_the_table_readers_only(tmp_path):
    cfg = write_config(tmp_path / "inst")
    one = tmp_path / "one.csv"
    one.write_text("sku,ean,title,brand,price,currency,stock\nA-1,4006381333931,Pen,Acme,1.50,EUR,3\n",
                   encoding="utf-8")
    # no pandas: a file without quotes is cut from its bytes, and neither sqlite-utils nor the
    # settlement formats every command registers may import it for a catalog
    assert imported_by("--config", str(cfg), "process", "--kind", "catalog", str(one)) == ["numpy", "sqlite_utils"]


MODULES_PROBE = """
import json, sys
from marketd.cli import main
sys.argv = ["marketd", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("marketd.plugins.") and m.endswith(".cli"))),
      file=sys.stderr)
"""


def test_a_core_command_does_not_load_the_plugins_commands(tmp_path):
    """`marketd process` is a core command: a plugin's command of the same name would never win,
    so asking every plugin for its commands (importing each one's CLI module) is only start-up
    time. `marketd --help` still lists them all."""
    cfg = write_config(tmp_path / "inst")
    one = tmp_path / "one.csv"
    one.write_text("sku,ean,title,brand,price,currency,stock\nA-1,4006381333931,Pen,Acme,1.50,EUR,3\n",
                   encoding="utf-8")

    def cli_modules(*args):
        res = subprocess.run([sys.executable, "-c", MODULES_PROBE, *args], capture_output=True, text=True,
                             timeout=120)
        return json.loads(res.stderr.strip().splitlines()[-1])

    assert "marketd.plugins.settlements.cli" not in cli_modules("--config", str(cfg), "process", "--kind",
                                                                "catalog", str(one))
    assert "marketd.plugins.settlements.cli" in cli_modules("--config", str(cfg), "--help")
