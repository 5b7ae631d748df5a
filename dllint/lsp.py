"""`dllint lsp`: the language server (pygls). Diagnostics for unsaved buffers, code actions.

Buffers are linted on open and save at once, and on change after a short pause (debounced), with
the workspace's `[tool.dllint]` (re-read when pyproject.toml is saved). Code actions: each
available fix, "ignore this code on this line", and fix-all. The engine turns its own crashes
into DL999 diagnostics; frames are read by `lsp_stream`, which skips and reports what cannot be
read and answers a malformed request with an error; a notification about a document that was
never opened is reported and ignored. So no input wedges or stops the server.

Positions count lines as LSP does (`split_lines`: `\r\n`, `\r`, `\n` only) and columns in the
negotiated position encoding. Buffers are synchronised whole (`TextDocumentSyncKind.Full`):
pygls applies incremental changes with `str.splitlines()` line numbers, which would corrupt a
buffer holding a form feed or `\u2028`.
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import replace
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
from dllint.runner import lint_text, workspace_index
from dllint.semantic.project import ProjectIndex
from dllint.types import Applicability, Diagnostic, Severity

DEBOUNCE_SECONDS = 0.3
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


class DllintLanguageServer(LanguageServer):
    protocol: DllintProtocol

    def __init__(self) -> None:
        super().__init__("dllint", __version__, protocol_cls=DllintProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.settings: Settings = build_settings(FileConfig(root=Path.cwd()),
                                                 ignore_bad_metadata=True)
        self.root: Path | None = None
        # The index of the workspace's files, built on first use and again after a save.
        self.project: ProjectIndex | None = None
        self.project_stale = True
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.config_error: str | None = None

    # ---- configuration ----------------------------------------------------------------------

    def configure(self, root: Path | None) -> None:
        self.root = root
        self.project_stale = True
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

    # ---- linting ----------------------------------------------------------------------------

    def open_document(self, uri: str) -> TextDocument:
        """The client's buffer; pygls would read a document that is not open from disk."""
        if not self.protocol.is_open(uri):
            raise JsonRpcInvalidParams(f"dllint: {uri} is not open (no textDocument/didOpen)")
        return self.workspace.get_text_document(uri)

    def lint(self, uri: str, fix: bool = False):
        document = self.open_document(uri)
        settings = replace(self.settings, fix=True) if fix else self.settings
        # A buffer with no file behind it is linted under its URI, which matches no real file.
        return document, lint_text(document.source, local_path(uri) or uri, settings,
                                   self.workspace_project())

    def workspace_project(self) -> ProjectIndex | None:
        """What the other files of the workspace define, as they are saved on disk."""
        if self.root is None:
            return None
        if self.project_stale:
            self.project = workspace_index(self.settings, jobs=1)
            self.project_stale = False
        return self.project

    def publish(self, uri: str) -> None:
        self.pending.pop(uri, None)
        if not uri.endswith((".py", ".pyi")):
            return
        document, result = self.lint(uri)
        lines = split_lines(document.source)
        diagnostics = [self.to_lsp(d, lines) for d in result.diagnostics]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, diagnostics=diagnostics, version=document.version))

    def schedule(self, uri: str) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        self.pending[uri] = asyncio.get_running_loop().call_later(
            DEBOUNCE_SECONDS, self.publish, uri)

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

    def to_lsp(self, diagnostic: Diagnostic, lines: list[str]) -> types.Diagnostic:
        def lines_of(path: str) -> list[str]:  # columns in another file count on its own text
            return lines if path == diagnostic.path else _saved_lines(path)

        related = [types.DiagnosticRelatedInformation(
            location=types.Location(uri=Path(item.path).resolve().as_uri()
                                    if Path(item.path).exists() else item.path,
                                    range=self.range(item.span, lines_of(item.path))),
            message=item.message) for item in diagnostic.related]
        data: dict[str, Any] = {"fixable": is_applicable(diagnostic.fix, unsafe_fixes=True)}
        return types.Diagnostic(
            range=self.range(diagnostic.span, lines), message=diagnostic.message,
            severity=_SEVERITY[diagnostic.severity], code=diagnostic.code, source=SOURCE,
            related_information=related or None, data=data)


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


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: DllintLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: DllintLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: DllintLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.project_stale = True  # the saved file may define what another one uses
    if uri.endswith("pyproject.toml"):
        ls.configure(ls.root)
        for document_uri in list(ls.workspace.text_documents):
            ls.publish(document_uri)
        return
    if not ls.protocol.is_open(uri):
        ls.protocol.report(f"ignored a save of {uri}, which was never opened")
        return
    ls.publish(uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: DllintLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    handle = ls.pending.pop(params.text_document.uri, None)
    if handle is not None:
        handle.cancel()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll]))
def code_action(ls: DllintLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document, result = ls.lint(uri)
    lines = split_lines(document.source)
    wanted = {(d.code, d.range.start.line) for d in params.context.diagnostics
              if d.source == SOURCE} if params.context.diagnostics else None
    actions: list[types.CodeAction] = []
    for diagnostic in result.diagnostics:
        key = (diagnostic.code, diagnostic.line - 1)
        if wanted is not None and key not in wanted:
            continue
        lsp_diagnostic = ls.to_lsp(diagnostic, lines)
        if diagnostic.fix is not None:
            edits = [types.TextEdit(range=ls.range(edit.span, lines), new_text=edit.content)
                     for edit in diagnostic.fix.edits]
            unsafe = diagnostic.fix.applicability is Applicability.UNSAFE
            actions.append(types.CodeAction(
                title=f"dllint: {diagnostic.fix.description}" + (" (unsafe)" if unsafe else ""),
                kind=types.CodeActionKind.QuickFix, diagnostics=[lsp_diagnostic],
                is_preferred=not unsafe,
                edit=types.WorkspaceEdit(changes={uri: edits})))
        actions.append(types.CodeAction(
            title=f"dllint: ignore {diagnostic.code} on this line",
            kind=types.CodeActionKind.QuickFix, diagnostics=[lsp_diagnostic],
            edit=types.WorkspaceEdit(changes={uri: [_ignore_edit(ls, lines, diagnostic)]})))
    _, fixed = ls.lint(uri, fix=True)
    if fixed.fixed_source is not None and fixed.fixed_source != document.source:
        source = document.source
        end = types.Position(len(lines), 0) if source.endswith(("\n", "\r")) or not lines else \
            types.Position(len(lines) - 1, ls.character(lines[-1], len(lines[-1]) + 1))
        whole = types.Range(start=types.Position(0, 0), end=end)
        actions.append(types.CodeAction(
            title="dllint: fix all safe fixes", kind=types.CodeActionKind.SourceFixAll,
            edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(range=whole,
                                                                   new_text=fixed.fixed_source)]})))
    return actions


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
    server.start_io()
