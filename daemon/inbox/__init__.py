"""The file-drop engine: which files are complete, claiming them, and the commit order.

Commit order per file (each step journaled, so ``kill -9`` anywhere is recovered on restart):

1. claim: rename ``inbox/<kind>/<name>`` to ``inbox/<kind>/.processing/<id>__<name>``, journal
   ``claimed``;
2. process in one store transaction; outputs are staged as fsynced dot-named temp files, their
   final names are checked to be free (a taken name rolls the transaction back), and the journal
   row becomes ``processed`` (with the staged list) in the same transaction;
3. publish the staged outputs (link into place, fsync folder), journal ``published``;
4. archive the input to ``.done/<YYYY-MM-DD>/``, journal ``done``.

One module per job, each with its door (see its docstring):

=============  ===========================================================================
``layout``     the folder layout: :class:`Inbox`, ids, archive paths, :func:`layout.archived`
``gate``       completeness per mode, the start-up rule, the second window, why a file waits
``evidence``   require_rename: did a file arrive by a rename or a link (watcher events, timestamps)
``claim``      rename into ``.processing/`` and journal ``claimed``
``commit``     the handler and the journal commit in one transaction; error classification
``publish``    publish outputs, archive the input; the summary's line-count convention
``reports``    rejection reports in ``.error/``
``retry``      temporary failures and backoff (files, and the worker on a failing database)
``recovery``   repair at start-up, adopt unjournaled claims, reject a file that hung the last run
``retention``  prune old archives (the housekeeping plugin's job)
``inhand``     the file in hand, for the watchdog's progress check
``waiting``    why each file waits, for ``marketd status``
``crash``      crash points for the kill -9 tests
``engine``     :class:`InboxEngine`: the loop and the operator actions
=============  ===========================================================================

Everything importable from ``marketd.inbox`` below is what the rest of marketd uses.
"""
from .claim import NotRegularFile, fingerprint, sha256_of
from .crash import crashpoint
from .engine import InboxEngine
from .evidence import Arrival, RenameEvidence, TempSeen
from .gate import Observation, Wait, unterminated_tail
from .layout import DONE, DUPLICATE, ERROR, PROCESSING, SPECIAL_DIRS, Inbox, archived, new_file_id
from .publish import line_counts, outcome
from .reports import error_text
from .retry import is_transient_db_error
from . import retention

__all__ = [
    "InboxEngine", "Inbox", "crashpoint", "new_file_id", "sha256_of", "fingerprint", "NotRegularFile",
    "is_transient_db_error", "error_text", "unterminated_tail", "Observation", "Arrival", "TempSeen", "Wait",
    "RenameEvidence",
    "PROCESSING", "DONE", "ERROR", "DUPLICATE", "SPECIAL_DIRS", "archived", "line_counts", "outcome",
    "retention",
]
