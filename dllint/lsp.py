"""`dllint lsp`: the language server (pygls). Diagnostics for unsaved buffers, code actions.

Buffers are linted on open and save at once, and on change after a short pause (debounced), with
the workspace's `[tool.dllint]` (re-read when pyproject.toml is saved). Linting runs in worker
processes (`lsp_workers`), never on the event loop, so every request is answered while a large
buffer is linted; a result for a version that changed meanwhile is dropped. The first
diagnostics come from the buffer alone plus the summaries known so far (the cache, the open
buffers); the workspace index is built in the background with `$/progress` (cancellable), and
when it is ready, or a buffer's summary changes, the open buffers whose findings depend on
what changed are linted again. Notebooks (`notebookDocument/*`) are linted as .ipynb files are,
with findings on their cells. Code actions: each available fix, "ignore this code on this
line", and fix-all, filtered by `context.only`. The engine turns its own crashes into DL999
diagnostics; frames are read by `lsp_stream`, which skips and reports what cannot be read and
answers a malformed request with an error; a notification about a document that was never
opened is reported and ignored. So no input wedges or stops the server. The server and its
workers end when the input closes, on `exit`, and when the client's process is gone.

Positions count lines as LSP does (`split_lines`: `\r\n`, `\r`, `\n` only) and columns in the
negotiated position encoding. Buffers are synchronised whole (`TextDocumentSyncKind.Full`):
pygls applies incremental changes with `str.splitlines()` line numbers, which would corrupt a
buffer holding a form feed or `\u2028`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.io_ import StdinAsyncReader, StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from dllint import __version__
from dllint.config import ConfigError, FileConfig, Settings, build_settings, find_config, load_config
from dllint.fixes import is_applicable
from dllint.lines import split_lines
from dllint.lsp_stream import FrameReader, deliver
from dllint.lsp_workers import Child, Summaries, serve_index, serve_lints, summary_key
from dllint.semantic.project import ProjectIndex
from dllint.types import Applicability, Diagnostic, FileResult, Severity

DEBOUNCE_SECONDS = 0.3
# Two lint workers: a large buffer being linted in one leaves the other free for the rest.
LINT_WORKERS = 2
CLIENT_CHECK_SECONDS = 1.0
WATCHED_FILES = ("**/*.py", "**/*.pyi", "**/*.ipynb", "**/pyproject.toml")
SOURCE = "dllint"
_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error,
             Severity.WARNING: types.DiagnosticSeverity.Warning,
             Severity.INFO: types.DiagnosticSeverity.Information}
_IGNORE = re.compile(r"#\s*dllint:\s*ignore\[([^\]]*)\]")


def local_path(uri: str) -> str | None:
    """The file a URI names; None when it names none: not a `file:` URI (`untitled:`), or one
    with a `%00`, which no file system allows (every OS call on it raises ValueError)."""
    path = to_fs_path(uri)
    return None if path is None or "\0" in path else path


class DllintProtocol(LanguageServerProtocol):
    """pygls's protocol, telling the user plainly about messages it has to ignore."""

    def report(self, text: str) -> None:
        self.notify(types.WINDOW_SHOW_MESSAGE,
                    types.ShowMessageParams(types.MessageType.Warning, f"dllint: {text}"))

    def is_open(self, uri: str) -> bool:
        return unquote(uri) in self.workspace.text_documents  # pygls keys documents unquoted

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        if not self.is_open(params.text_document.uri):  # pygls would raise KeyError
            self.report(f"ignored a change to {params.text_document.uri}, which was never opened")
            return
        yield from super().lsp_text_document__did_change(params)

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(self, params: types.DidChangeNotebookDocumentParams):
        if self.workspace.get_notebook_document(notebook_uri=params.notebook_document.uri) \
                is None:  # pygls would raise KeyError
            self.report(f"ignored a change to {params.notebook_document.uri}, which was never "
                        "opened")
            return
        yield from super().lsp_notebook_document__did_change(params)


@dataclass
class Linted:
    """A buffer's latest findings, and what they were computed from."""

    version: int | None
    path: str
    result: FileResult
    lines: list[str]
    # The index the buffer was linted with (None: no summaries yet), and the digests of the
    # summaries its findings depend on: when those change, the buffer is linted again.
    project: ProjectIndex | None
    digests: dict[str, str | None]
    owner: str = ""  # what to lint again: the buffer, or the notebook a cell belongs to


class DllintLanguageServer(LanguageServer):
    protocol: DllintProtocol

    def __init__(self) -> None:
        super().__init__("dllint", __version__, protocol_cls=DllintProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Full,
                         notebook_document_sync=types.NotebookDocumentSyncOptions(
                             notebook_selector=[types.NotebookDocumentFilterWithCells(
                                 notebook="*", cells=[types.NotebookCellLanguage("python")])]))
        self.settings: Settings = build_settings(FileConfig(root=Path.cwd()),
                                                 ignore_bad_metadata=True)
        self.root: Path | None = None
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.config_error: str | None = None
        self.languages: dict[str, str] = {}  # languageId of each open document
        self.results: dict[str, Linted] = {}
        self.summary_versions: dict[str, int] = {}  # the buffer version each summary is of
        self.saved_versions: dict[str, int] = {}  # the buffer version last saved
        self.linting: set[str] = set()  # buffers being linted now
        self.again: set[str] = set()  # ... and changed meanwhile: lint them once more
        self.tasks: set[asyncio.Task] = set()  # kept, or the loop may drop them unfinished
        # Child processes, and threads that wait for their replies off the event loop.
        self.lint_workers = [Child(serve_lints) for _ in range(LINT_WORKERS)]
        self.index_worker = Child(serve_index)
        self.executor = ThreadPoolExecutor(max_workers=LINT_WORKERS + 1,
                                           thread_name_prefix="dllint-worker")
        self.idle_workers: asyncio.Queue[int] | None = None
        self.changes_for: list[list] = [[] for _ in self.lint_workers]  # not yet sent to each
        self.settings_sent = [False for _ in self.lint_workers]
        # Summaries of the workspace's files: as saved (the index), and of the open buffers,
        # which stand for their files while open. `project` is the index of both, for the
        # digests of what each buffer's findings depend on.
        self.disk: Summaries = {}
        self.buffers: Summaries = {}
        self.project: ProjectIndex | None = None
        self.project_stale = True
        self.index_generation = 0  # a build whose generation is over is ignored (cancelled)
        self.index_state = "none"  # building, ready, cancelled, skipped
        self.index_timer: asyncio.TimerHandle | None = None

    # ---- configuration ----------------------------------------------------------------------

    def configure(self, root: Path | None) -> None:
        self.root = root
        start = root or Path.cwd()
        try:
            self.settings = build_settings(load_config(find_config(start), start), start=start)
            self.config_error = None
        except ConfigError as error:
            self.settings = build_settings(FileConfig(root=start), ignore_bad_metadata=True,
                                           start=start)
            self.config_error = str(error)
            self.window_show_message(types.ShowMessageParams(
                types.MessageType.Error, f"dllint: {error}; using defaults"))
        self.settings_sent = [False for _ in self.lint_workers]

    # ---- input and output -------------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """pygls's stdio server, with `lsp_stream` reading the frames instead of pygls."""
        reader = StdinAsyncReader(stdin or sys.stdin.buffer, self.thread_pool)
        writer = StdoutWriter(stdout or sys.stdout.buffer)
        self.protocol.set_writer(writer)
        frames = FrameReader(reader.readline, reader.readexactly, self.protocol.report)

        async def serve() -> None:
            while (body := await frames.next_body()) is not None:
                try:
                    deliver(body, self.protocol, self.protocol.report, writer.write)
                except Exception as error:  # noqa: BLE001 - said to the client, server goes on
                    # pygls's own loop keeps serving after a message it failed on; so does this.
                    self.protocol.report(f"internal error on a message ({type(error).__name__}: "
                                         f"{error}); the server goes on")

        try:
            asyncio.run(serve())
        except BrokenPipeError:
            pass  # the client is gone: nobody is left to tell
        except (KeyboardInterrupt, SystemExit):
            pass  # `exit` from the client, as in pygls
        finally:
            self.shutdown()

    def start_children(self) -> None:
        """Start the worker processes before any thread does (forking a threaded process can
        copy a lock some thread holds)."""
        for worker in (*self.lint_workers, self.index_worker):
            worker.start()

    def stop_children(self) -> None:
        self.index_generation += 1
        for worker in (*self.lint_workers, self.index_worker):
            worker.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self.stop_children()
        super().shutdown()

    def spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def watch_client(self, pid: int) -> None:
        """End with the client: an editor killed without closing the server's input would
        otherwise leave it (and its workers) running."""
        while True:
            await asyncio.sleep(CLIENT_CHECK_SECONDS)
            if not _process_exists(pid):
                self.stop_children()
                os._exit(0)  # the thread reading stdin may be blocked for ever: do not join it

    # ---- linting ----------------------------------------------------------------------------

    def open_document(self, uri: str) -> TextDocument:
        """The client's buffer; pygls would read a document that is not open from disk."""
        if not self.protocol.is_open(uri):
            raise JsonRpcInvalidParams(f"dllint: {uri} is not open (no textDocument/didOpen)")
        return self.workspace.get_text_document(uri)

    def wants_lint(self, uri: str) -> bool:
        """Python files, and buffers the client says hold Python (`untitled:Untitled-1`)."""
        return uri.endswith((".py", ".pyi")) or self.languages.get(unquote(uri)) == "python"

    async def run_lint(self, path: str, text: str, fix: bool, summarise_it: bool,
                       notebook: bool = False) -> tuple[FileResult, asyncio.Task | None]:
        """Lint `text` as the file `path` in an idle lint worker, with the workspace's summaries.
        The one place the server lints: a worker that died is started again and the job
        retried once. With `summarise_it`, also a task for the text's summary, which the worker
        makes after it returned the findings (so they are published without waiting for it)."""
        if self.idle_workers is None:
            self.idle_workers = asyncio.Queue()
            for number in range(len(self.lint_workers)):
                self.idle_workers.put_nowait(number)
        number = await self.idle_workers.get()
        worker = self.lint_workers[number]
        release = True
        try:
            for attempt in range(2):
                if worker.start():
                    self.settings_sent[number] = False
                    self.changes_for[number] = [("reset", self.summaries())]
                message = (self.changes_for[number], None if self.settings_sent[number]
                           else self.settings, path, text, fix, summarise_it, notebook)
                self.changes_for[number], self.settings_sent[number] = [], True
                try:
                    result = await asyncio.get_running_loop().run_in_executor(
                        self.executor, worker.call, message)
                except (EOFError, OSError) as error:
                    worker.stop()
                    if attempt:
                        raise WorkerLost(f"the lint worker stopped ({type(error).__name__})") \
                            from error
                    continue
                if not summarise_it:
                    return result, None
                release = False  # busy until the summary comes
                return result, asyncio.get_running_loop().create_task(self.summary_from(number))
            raise AssertionError("unreachable")
        finally:
            if release:
                self.idle_workers.put_nowait(number)

    async def summary_from(self, number: int) -> Any:
        """The summary a lint worker sends after its findings; MISSING when it died."""
        assert self.idle_workers is not None
        worker = self.lint_workers[number]
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor,
                                                                    worker.receive)
        except (EOFError, OSError):
            worker.stop()  # started again for the next job
            return MISSING
        finally:
            self.idle_workers.put_nowait(number)

    async def lint_buffer(self, uri: str, fix: bool = False) -> Linted | None:
        """The open buffer's findings now; None when it changed or closed meanwhile (stale)."""
        document = self.open_document(uri)
        version, text = document.version, document.source
        path = local_path(uri) or uri  # a buffer with no file behind it: linted under its URI
        project = self.current_project()
        summarise_it = not fix and local_path(uri) is not None
        try:
            result, summary = await self.run_lint(path, text, fix, summarise_it)
        except WorkerLost as error:
            self.protocol.report(f"{error}; {uri} was not linted")
            return None
        if summary is not None:
            self.spawn(self.summary_arrives(uri, path, version, summary))
        if not self.protocol.is_open(uri) or self.workspace.get_text_document(uri).version \
                != version:
            return None
        digests = project.dependency_digests(result.dependencies, path) if project else {}
        linted = Linted(version, path, result, split_lines(text), project, digests, uri)
        if not fix:
            self.results[uri] = linted
        return linted

    async def summary_arrives(self, uri: str, path: str, version: int | None,
                              summary: asyncio.Task) -> None:
        """A buffer's summary, unless one of a newer version of it came first."""
        found = await summary
        if found is MISSING or not self.protocol.is_open(uri) or \
                self.summary_versions.get(uri, -1) > (version or 0):
            return
        self.summary_versions[uri] = version or 0
        self.buffer_changed(uri, path, found)
        if self.saved_versions.get(uri) == (version or 0):
            self.disk[summary_key(path)] = found

    async def publish(self, uri: str) -> None:
        """Lint the buffer and publish its findings; a buffer already being linted is linted
        once more when that ends, with its newest text."""
        self.pending.pop(uri, None)
        if uri in self.linting:
            self.again.add(uri)
            return
        self.linting.add(uri)
        try:
            while True:
                self.again.discard(uri)
                await self.publish_once(uri)
                if uri not in self.again:
                    return
        finally:
            self.linting.discard(uri)

    async def publish_once(self, uri: str) -> None:
        if self.workspace.get_notebook_document(notebook_uri=uri) is not None:
            await self.publish_notebook(uri)
            return
        if not self.protocol.is_open(uri) or not self.wants_lint(uri):
            return
        linted = await self.lint_buffer(uri)
        if linted is None:
            return
        diagnostics = [self.to_lsp(d, linted.lines) for d in linted.result.diagnostics]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, diagnostics=diagnostics, version=linted.version))

    async def publish_notebook(self, uri: str) -> None:
        """Lint an open notebook as dllint lints an .ipynb file (its code cells in order, read
        as IPython reads them), and publish each cell's findings on the cell."""
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        assert notebook is not None
        version = notebook.version
        cells = [(cell, self.workspace.get_text_document(cell.document))
                 for cell in notebook.cells]
        text = json.dumps({"cells": [_notebook_cell(cell.kind, document.source)
                                     for cell, document in cells],
                           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
        path = local_path(uri) or uri
        project = self.current_project()
        try:
            result, _ = await self.run_lint(path, text, False, False, notebook=True)
        except WorkerLost as error:
            self.protocol.report(f"{error}; {uri} was not linted")
            return
        now = self.workspace.get_notebook_document(notebook_uri=uri)
        if now is None or now.version != version:
            return  # changed or closed meanwhile: stale
        digests = project.dependency_digests(result.dependencies, path) if project else {}
        located = [(cell.document, split_lines(document.source)) for cell, document in cells]
        first_code = next((number for number, (cell, _) in enumerate(cells, start=1)
                           if cell.kind == types.NotebookCellKind.Code), 1)
        by_cell: dict[int, list[Diagnostic]] = {}
        for diagnostic in result.diagnostics:  # one about the whole notebook: on its first cell
            by_cell.setdefault(diagnostic.cell or first_code, []).append(diagnostic)
        for number, (cell, document) in enumerate(cells, start=1):
            found = by_cell.get(number, [])
            lines = located[number - 1][1]
            self.results[cell.document] = Linted(
                document.version, path, replace(result, diagnostics=tuple(found)), lines,
                project, digests, uri)
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=cell.document, diagnostics=[self.to_lsp(d, lines, located) for d in found],
                version=document.version))

    def schedule(self, uri: str, delay: float = DEBOUNCE_SECONDS) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        self.pending[uri] = asyncio.get_running_loop().call_later(
            delay, lambda: self.spawn(self.publish(uri)))

    # ---- the workspace index ----------------------------------------------------------------

    def summaries(self) -> Summaries:
        return {**self.disk, **self.buffers}

    def current_project(self) -> ProjectIndex | None:
        if self.project_stale:
            present = [summary for summary in self.summaries().values() if summary is not None]
            self.project = ProjectIndex.from_summaries(present) if present else None
            self.project_stale = False
        return self.project

    def summaries_changed(self, change: tuple, origin: str | None = None) -> None:
        """Send the change to every lint worker with its next job; lint again the open buffers
        whose findings depend on what changed (not `origin`, the buffer whose own summary it
        is: its findings were made from the text that summary was made from)."""
        for pending in self.changes_for:
            if change[0] == "reset":
                pending.clear()
            pending.append(change)
        self.project_stale = True
        project = self.current_project()
        for uri, linted in list(self.results.items()):
            if linted.project is project or uri == origin:
                continue
            if linted.project is None or project is None or linted.digests != \
                    project.dependency_digests(linted.result.dependencies, linted.path):
                self.schedule(linted.owner or uri, delay=0)

    def buffer_changed(self, uri: str, path: str, summary: dict | None) -> None:
        key = summary_key(path)
        if self.summaries().get(key, MISSING) == summary:
            self.buffers[key] = summary
            return
        self.buffers[key] = summary
        self.summaries_changed(("put", key, summary), origin=uri)

    def buffer_closed(self, uri: str) -> None:
        path = local_path(uri)
        self.results.pop(uri, None)
        self.summary_versions.pop(uri, None)
        self.saved_versions.pop(uri, None)
        if path is None or summary_key(path) not in self.buffers:
            return
        key = summary_key(path)
        before = self.buffers.pop(key)
        after = self.disk.get(key)
        if before != after:
            self.summaries_changed(("put", key, after))

    def buffer_saved(self, uri: str) -> None:
        """The saved text is now the file's text on disk, which the index stands for (its
        summary may come after the save's findings: then `summary_arrives` records it)."""
        path = local_path(uri)
        if path is None or not self.protocol.is_open(uri):
            return
        version = self.workspace.get_text_document(uri).version or 0
        self.saved_versions[uri] = version
        if self.summary_versions.get(uri) == version and summary_key(path) in self.buffers:
            self.disk[summary_key(path)] = self.buffers[summary_key(path)]

    async def build_index(self) -> None:
        """Summarise the workspace's files in the index worker (from the cache where the files
        did not change), reporting `$/progress`; cancelled by the client or a newer build."""
        if self.root is None:
            return
        self.index_generation += 1
        generation = self.index_generation
        if self.index_state == "building":
            self.index_worker.stop()  # a build of the old settings: no longer wanted
        self.index_state = "building"
        self.index_worker.start()
        connection = self.index_worker.connection
        progress = IndexProgress(self, generation)
        progress.begin()
        loop = asyncio.get_running_loop()
        try:
            connection.send(self.settings)
            while True:
                message = await loop.run_in_executor(self.executor, connection.recv)
                if generation != self.index_generation:
                    return
                if message[0] == "cached":
                    if message[1]:
                        self.disk = dict(message[1])
                        self.summaries_changed(("reset", self.summaries()))
                elif message[0] == "progress":
                    progress.report(*message[1:])
                elif message[0] == "skipped":
                    self.index_state = "skipped"
                    progress.end(f"no index: {message[1]}")
                    return
                else:
                    self.disk.update(message[1])
                    self.index_state = "ready"
                    if message[1]:
                        self.summaries_changed(("reset", self.summaries()))
                    progress.end(f"{len(self.disk)} files")
                    return
        except (EOFError, OSError):
            if generation != self.index_generation:
                progress.end("cancelled")
                return
            self.index_state = "cancelled"  # not by anyone: the worker died
            self.protocol.report("the index worker stopped; cross-file findings are "
                                 "limited to what was indexed")
            progress.end("stopped")

    def schedule_index(self) -> None:
        if self.index_timer is not None:
            self.index_timer.cancel()
        self.index_timer = asyncio.get_running_loop().call_later(
            DEBOUNCE_SECONDS, lambda: self.spawn(self.build_index()))

    def cancel_index(self, generation: int) -> None:
        if generation != self.index_generation or self.index_state != "building":
            return
        self.index_generation += 1
        self.index_state = "cancelled"
        self.index_worker.stop()

    # ---- positions --------------------------------------------------------------------------

    def character(self, line: str, column: int) -> int:
        """An LSP character offset (code units of the negotiated encoding, UTF-16 unless the
        client asked otherwise) from dllint's 1-based column (code points)."""
        return self.workspace.position_codec.client_num_units(line[: max(column - 1, 0)])

    def range(self, span, lines: list[str]) -> types.Range:
        def line_text(number: int) -> str:
            return lines[number - 1] if 0 < number <= len(lines) else ""

        return types.Range(
            start=types.Position(span.start_line - 1,
                                 self.character(line_text(span.start_line), span.start_column)),
            end=types.Position(span.end_line - 1,
                               self.character(line_text(span.end_line), span.end_column)))

    def to_lsp(self, diagnostic: Diagnostic, lines: list[str],
               cells: list[tuple[str, list[str]]] | None = None) -> types.Diagnostic:
        """`cells`: a notebook's cells (URI, lines), where a related location in a cell is."""
        def location(item) -> types.Location:
            if cells and item.cell is not None and 0 < item.cell <= len(cells):
                cell_uri, cell_lines = cells[item.cell - 1]
                return types.Location(uri=cell_uri, range=self.range(item.span, cell_lines))
            # Columns in another file count on its own text.
            item_lines = lines if item.path == diagnostic.path else _saved_lines(item.path)
            return types.Location(uri=Path(item.path).resolve().as_uri()
                                  if Path(item.path).exists() else item.path,
                                  range=self.range(item.span, item_lines))

        related = [types.DiagnosticRelatedInformation(location=location(item),
                                                      message=item.message)
                   for item in diagnostic.related]
        data: dict[str, Any] = {"fixable": is_applicable(diagnostic.fix, unsafe_fixes=True)}
        return types.Diagnostic(
            range=self.range(diagnostic.span, lines), message=diagnostic.message,
            severity=_SEVERITY[diagnostic.severity], code=diagnostic.code, source=SOURCE,
            related_information=related or None, data=data)


class WorkerLost(Exception):
    """A lint worker died twice on the same job (killed, out of memory)."""


MISSING = object()


class IndexProgress:
    """`$/progress` for one index build, when the client supports it: the token is created
    first (`window/workDoneProgress/create`), without waiting on the client's answer, so a
    client that never answers delays nothing; cancelling it cancels the build."""

    def __init__(self, server: DllintLanguageServer, generation: int) -> None:
        self.server = server
        self.generation = generation
        self.token = f"dllint-index-{generation}"
        self.created = False
        self.ended = False
        self.end_message = ""
        capabilities = server.client_capabilities.window
        self.supported = bool(capabilities and capabilities.work_done_progress)

    def begin(self) -> None:
        if self.supported:
            self.server.work_done_progress.create(self.token, self._created)

    def _created(self, *args) -> None:
        self.created = True
        self.server.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
            title="dllint: indexing the workspace", cancellable=not self.ended, percentage=0))
        if self.ended:
            # The build ended before the client answered: the progress it asked for still
            # begins and ends, so a client waiting on it is not left with an open one.
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(
                message=self.end_message))
            return
        self.server.work_done_progress.tokens[self.token].add_done_callback(
            lambda future: future.cancelled() and self.server.cancel_index(self.generation))

    def report(self, done: int, total: int) -> None:
        if self.created and not self.ended:
            self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(
                message=f"{done}/{total} files", percentage=100 * done // max(total, 1)))

    def end(self, message: str) -> None:
        if self.created and not self.ended:
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(
                message=message))
        self.ended = True
        self.end_message = message


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


def _notebook_cell(kind: types.NotebookCellKind, source: str) -> dict[str, Any]:
    if kind == types.NotebookCellKind.Code:
        return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
                "execution_count": None}
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _saved_lines(path: str) -> list[str]:
    """A workspace file's lines as saved, which is what the project index read its spans from."""
    try:
        return split_lines(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []


server = DllintLanguageServer()


@server.feature(types.INITIALIZE)
def initialize(ls: DllintLanguageServer, params: types.InitializeParams) -> None:
    root = None
    if params.workspace_folders:
        root = local_path(params.workspace_folders[0].uri)
    elif params.root_uri:
        root = local_path(params.root_uri)
    elif params.root_path and "\0" not in params.root_path:
        root = params.root_path
    ls.configure(Path(root) if root else None)
    # A client in another PID namespace (a container) sends a pid that does not exist here:
    # only a pid seen alive now can be watched.
    if params.process_id and os.name == "posix" and _process_exists(params.process_id):
        ls.spawn(ls.watch_client(params.process_id))


@server.feature(types.INITIALIZED)
def initialized(ls: DllintLanguageServer, params: types.InitializedParams) -> None:
    ls.spawn(ls.build_index())
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if watched and watched.dynamic_registration:
        # Files changed outside the editor (a checkout, a generator) update the index too.
        ls.client_register_capability(types.RegistrationParams(registrations=[
            types.Registration(id="dllint-watched-files",
                               method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                               register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                   watchers=[types.FileSystemWatcher(glob_pattern=pattern)
                                             for pattern in WATCHED_FILES]))]))


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: DllintLanguageServer,
                             params: types.DidChangeWatchedFilesParams) -> None:
    """Build the index again, after a pause: only files whose content changed are summarised
    again (the others come from the cache)."""
    if ls.root is None or not params.changes:
        return
    if any(change.uri.endswith("pyproject.toml") for change in params.changes):
        ls.configure(ls.root)
        for document_uri in list(ls.workspace.text_documents):
            ls.spawn(ls.publish(document_uri))
    ls.schedule_index()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: DllintLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.languages[unquote(params.text_document.uri)] = params.text_document.language_id
    await ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: DllintLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: DllintLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    if uri.endswith("pyproject.toml"):
        ls.configure(ls.root)
        ls.spawn(ls.build_index())
        for document_uri in list(ls.workspace.text_documents):
            ls.spawn(ls.publish(document_uri))
        return
    if not ls.protocol.is_open(uri):
        ls.protocol.report(f"ignored a save of {uri}, which was never opened")
        return
    # The save is recorded first: a close that comes while the saved text is linted must find
    # the saved text's summary standing for the file.
    ls.buffer_saved(uri)
    await ls.publish(uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: DllintLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    handle = ls.pending.pop(uri, None)
    if handle is not None:
        handle.cancel()
    ls.languages.pop(unquote(uri), None)
    ls.buffer_closed(uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
async def did_open_notebook(ls: DllintLanguageServer,
                            params: types.DidOpenNotebookDocumentParams) -> None:
    await ls.publish(params.notebook_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
def did_change_notebook(ls: DllintLanguageServer,
                        params: types.DidChangeNotebookDocumentParams) -> None:
    ls.schedule(params.notebook_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
async def did_save_notebook(ls: DllintLanguageServer,
                            params: types.DidSaveNotebookDocumentParams) -> None:
    if ls.workspace.get_notebook_document(notebook_uri=params.notebook_document.uri) is None:
        ls.protocol.report(f"ignored a save of {params.notebook_document.uri}, which was never "
                           "opened")
        return
    await ls.publish(params.notebook_document.uri)


@server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
def did_close_notebook(ls: DllintLanguageServer,
                       params: types.DidCloseNotebookDocumentParams) -> None:
    handle = ls.pending.pop(params.notebook_document.uri, None)
    if handle is not None:
        handle.cancel()
    for cell in params.cell_text_documents:
        ls.results.pop(cell.uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell.uri,
                                                                            diagnostics=[]))


def _kind_wanted(kind: str, only: list[str] | None) -> bool:
    """`context.only`: a kind is wanted when it is one of them or under one (`source` holds
    `source.fixAll`)."""
    return only is None or any(kind == wanted or kind.startswith(wanted + ".") for wanted in only)


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll]))
async def code_action(ls: DllintLanguageServer,
                      params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = ls.open_document(uri)
    linted = ls.results.get(uri)
    in_notebook = ls.workspace.get_notebook_document(cell_uri=uri) is not None
    if in_notebook and (linted is None or linted.version != document.version):
        return []  # a cell is linted with its notebook, which is being linted again
    if linted is None or linted.version != document.version:
        linted = await ls.lint_buffer(uri)
    if linted is None:
        return []  # the buffer changed meanwhile: the client asks again for the new text
    only = params.context.only
    actions: list[types.CodeAction] = []
    if _kind_wanted(types.CodeActionKind.QuickFix, only):
        actions.extend(_quick_fixes(ls, uri, linted, params.context.diagnostics))
    if not in_notebook and _kind_wanted(types.CodeActionKind.SourceFixAll, only) and any(
            d.fix is not None for d in linted.result.diagnostics):
        fixed = await ls.lint_buffer(uri, fix=True)
        source = ls.open_document(uri).source
        if fixed is not None and fixed.result.fixed_source not in (None, source):
            lines = linted.lines
            end = types.Position(len(lines), 0) if source.endswith(("\n", "\r")) or not lines \
                else types.Position(len(lines) - 1, ls.character(lines[-1], len(lines[-1]) + 1))
            whole = types.Range(start=types.Position(0, 0), end=end)
            actions.append(types.CodeAction(
                title="dllint: fix all safe fixes", kind=types.CodeActionKind.SourceFixAll,
                edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(
                    range=whole, new_text=fixed.result.fixed_source)]})))
    return actions


def _quick_fixes(ls: DllintLanguageServer, uri: str, linted: Linted,
                 asked: list[types.Diagnostic] | None) -> list[types.CodeAction]:
    """Each finding's fix and "ignore CODE on line N". Titles name the line (and the column
    where two on one line would read the same), so that identical fixes can be told apart."""
    lines = linted.lines
    wanted = {(d.code, d.range.start.line) for d in asked if d.source == SOURCE} \
        if asked else None
    fixes: list[tuple[Diagnostic, types.CodeAction]] = []
    ignores: dict[tuple[str, int], types.CodeAction] = {}
    for diagnostic in linted.result.diagnostics:
        if wanted is not None and (diagnostic.code, diagnostic.line - 1) not in wanted:
            continue
        lsp_diagnostic = ls.to_lsp(diagnostic, lines)
        if diagnostic.fix is not None:
            edits = [types.TextEdit(range=ls.range(edit.span, lines), new_text=edit.content)
                     for edit in diagnostic.fix.edits]
            unsafe = diagnostic.fix.applicability is Applicability.UNSAFE
            fixes.append((diagnostic, types.CodeAction(
                title=f"dllint: {diagnostic.fix.description}" + (" (unsafe)" if unsafe else ""),
                kind=types.CodeActionKind.QuickFix, diagnostics=[lsp_diagnostic],
                is_preferred=not unsafe,
                edit=types.WorkspaceEdit(changes={uri: edits}))))
        key = (diagnostic.code, diagnostic.line)
        if key in ignores:  # one comment silences them all
            ignores[key].diagnostics.append(lsp_diagnostic)
            continue
        ignores[key] = types.CodeAction(
            title=f"dllint: ignore {diagnostic.code} on line {diagnostic.line}",
            kind=types.CodeActionKind.QuickFix, diagnostics=[lsp_diagnostic],
            edit=types.WorkspaceEdit(changes={uri: [_ignore_edit(ls, lines, diagnostic)]}))
    with_lines = [f"{action.title} (line {d.line})" for d, action in fixes]
    for (diagnostic, action), title in zip(fixes, with_lines):
        action.title = title if with_lines.count(title) == 1 else \
            f"{title[:-1]}, column {diagnostic.column})"
    return [action for _, action in fixes] + list(ignores.values())


def _ignore_edit(ls: DllintLanguageServer, lines: list[str],
                 diagnostic: Diagnostic) -> types.TextEdit:
    """Add the code to the line's `# dllint: ignore[...]`, or append such a comment."""
    number = diagnostic.line - 1
    text = lines[number] if number < len(lines) else ""
    match = _IGNORE.search(text)
    if match:
        codes = [c.strip() for c in match.group(1).split(",") if c.strip()]
        new = text[:match.start(1)] + ", ".join([*codes, diagnostic.code]) + text[match.end(1):]
    else:
        new = f"{text}  # dllint: ignore[{diagnostic.code}]"
    end = types.Position(number, ls.character(text, len(text) + 1))
    return types.TextEdit(range=types.Range(start=types.Position(number, 0), end=end), new_text=new)


def main() -> None:
    server.start_children()
    server.start_io()
