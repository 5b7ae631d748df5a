"""The language server, end to end: pytest-lsp drives `dllint lsp` as a real client would."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED  # noqa: E402




@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "dllint", "lsp"]))
async def client(lsp_client: LanguageClient, tmp_path_factory):
    root = tmp_path_factory.mktemp("workspace")
    (root / "pyproject.toml").write_text("[tool.dllint]\nper-file-ignores = {'skip_*.py' = ['DL001']}\n")
    lsp_client.workspace_root = root
    lsp_client.registered = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:  # the file watcher dllint asks for
        lsp_client.registered.extend(item.method for item in params.registrations)

    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="workspace")]))
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, name: str, text: str, version: int = 1) -> str:
    uri = (client.workspace_root / name).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version,
                                             text=text)))
    return uri


async def diagnostics_for(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return list(client.diagnostics[uri])


async def codes_become(client: LanguageClient, uri: str, expected: list[tuple[str, int]],
                       timeout: float = 60.0) -> list[types.Diagnostic]:
    """The buffer's diagnostics once their (code, line)s are `expected` (later publishes
    replace earlier ones: the index arrives after the first)."""
    async def settled() -> list[types.Diagnostic]:
        while [(d.code, d.range.start.line) for d in client.diagnostics.get(uri, [])] != expected:
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics[uri])

    return await asyncio.wait_for(settled(), timeout)


@pytest.mark.asyncio
async def test_unsaved_buffer_gets_diagnostics_on_open(client: LanguageClient):
    uri = open_document(client, "train.py", PAIRED_LISTINGS)
    found = await diagnostics_for(client, uri)
    assert [(d.code, d.range.start.line, d.range.start.character, d.source) for d in found] == [
        ("DL001", 1, 9, "dllint")]
    assert found[0].related_information[0].location.range.start.line == 3


@pytest.mark.asyncio
async def test_a_buffer_knows_what_the_workspace_files_define(client: LanguageClient):
    (client.workspace_root / "model.py").write_text(
        "import torch.nn.functional as F\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        "    def forward(self, x):\n        return F.softmax(self.fc(x), dim=1)\n")
    # Written after the index was built: the client's file watcher tells the server.
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(client.workspace_root / "model.py").as_uri(),
                        type=types.FileChangeType.Created)]))
    uri = open_document(client, "train.py", "from torch import nn\nfrom model import Net\n\n"
                                            "loss = nn.CrossEntropyLoss()(Net()(x), y)\n")
    found = await codes_become(client, uri, [("DL002", 3)])
    assert found[0].related_information[0].location.uri.endswith("model.py")


@pytest.mark.asyncio
async def test_changes_are_linted_after_a_pause(client: LanguageClient):
    uri = open_document(client, "model.py", "x = 1\n")
    assert await diagnostics_for(client, uri) == []
    for version, text in enumerate(["import glob\n", PAIRED_LISTINGS], start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    # Debounced: the final text is linted after the pause (under load, the first change may
    # get its own publish too, so wait for the last one rather than count them).
    for _ in range(20):
        found = await diagnostics_for(client, uri)
        if [d.code for d in found] == ["DL001"]:
            break
    assert [d.code for d in found] == ["DL001"]


@pytest.mark.asyncio
async def test_code_actions_fix_ignore_and_fix_all(client: LanguageClient):
    uri = open_document(client, "data.py", PAIRED_LISTINGS)
    found = await diagnostics_for(client, uri)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=found[0].range,
        context=types.CodeActionContext(diagnostics=found)))
    titles = {action.title: action for action in actions}
    fix = titles["dllint: Wrap the listing in `sorted()` (line 2)"]
    assert fix.is_preferred and [e.new_text for e in fix.edit.changes[uri]] == ["sorted(", ")"]
    ignore = titles["dllint: ignore DL001 on line 2"]
    assert ignore.edit.changes[uri][0].new_text.endswith("  # dllint: ignore[DL001]")
    fix_all = titles["dllint: fix all safe fixes"]
    assert fix_all.kind == types.CodeActionKind.SourceFixAll
    assert fix_all.edit.changes[uri][0].new_text == PAIRED_LISTINGS_FIXED


@pytest.mark.asyncio
async def test_workspace_configuration_is_respected(client: LanguageClient):
    uri = open_document(client, "skip_this.py", PAIRED_LISTINGS)
    assert await diagnostics_for(client, uri) == []


@pytest.mark.asyncio
async def test_unparsable_file_and_malformed_requests_do_not_stop_the_server(client: LanguageClient):
    broken = open_document(client, "broken.py", "def f(:\n    pass\n")
    assert [d.code for d in await diagnostics_for(client, broken)] == ["DL903"]
    with pytest.raises(Exception):  # an unknown document: an error answer, not a crash
        await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri="file:///nowhere/missing.py"),
            range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[])))
    uri = open_document(client, "after.py", PAIRED_LISTINGS)
    assert [d.code for d in await diagnostics_for(client, uri)] == ["DL001"]
