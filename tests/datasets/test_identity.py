"""A store's metadata is data too: its meaning checked, its document sealed, its content named
by one digest that info prints, the card carries, an AMN records and `pull --digest` checks."""

import json

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.datasets import TeacherDataset
from actor_mimic.datasets.inspection import verify_store
from actor_mimic.distill.tasks import GameStores, describe_tasks
from actor_mimic.errors import UserError
from actor_mimic.store import open_backend, open_store, read_card, store_digest
from tests.datasets.conftest import copy_store, edit_row


def digest_of(path) -> str:
    with open_store(path, allow_incomplete=True) as (backend, info):
        return store_digest(backend, info.attrs)


def edit_attrs(path, edit) -> None:
    """An edit made through the library (so the document is sealed again): only its meaning is wrong."""
    backend = open_backend(path, "a")
    attrs = backend.read_attrs()
    edit(attrs)
    backend.write_attrs(attrs)
    backend.close()


def dataset(capsys, *argv):
    status = main(["dataset", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_info_prints_the_digest_the_card_carries_it(capsys, breakout_zarr):
    digest = digest_of(breakout_zarr)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    status, out, _ = dataset(capsys, "info", breakout_zarr)
    assert status == 0 and f"  digest      {digest}\n" in out
    status, out, _ = dataset(capsys, "info", "--json", breakout_zarr)
    assert json.loads(out)["stores"][0]["digest"] == digest
    assert f"Content digest: `{digest}`" in read_card(breakout_zarr)


def test_the_digest_names_the_bytes(tmp_path, breakout_zarr, breakout_h5):
    copy = tmp_path / "copy.zarr"
    copy_store(breakout_zarr, copy)
    assert digest_of(copy) == digest_of(breakout_zarr)  # the same bytes: the same digest
    edit_row(copy, "lanes/0/q_values", 3, np.full(4, 7.0, dtype=np.float32))  # new bytes, valid checksums
    assert verify_store(copy) == []
    assert digest_of(copy) != digest_of(breakout_zarr)
    assert digest_of(breakout_h5) != digest_of(breakout_zarr)  # the same rows in other bytes


def test_verify_and_readers_refuse_a_game_ale_does_not_ship(capsys, tmp_path, breakout_zarr):
    store = tmp_path / "edited.zarr"
    copy_store(breakout_zarr, store)
    edit_attrs(store, lambda attrs: attrs.update(game="brakeout"))
    status, out, err = dataset(capsys, "verify", store)
    assert status == 2 and out == ""
    assert (
        err.strip()
        == f"{store}: document: store attribute 'game' is 'brakeout', a game the installed ALE does not ship"
    )
    with pytest.raises(UserError, match="'game' is 'brakeout', a game the installed ALE does not ship"):
        TeacherDataset(store)
    status, _, err = dataset(capsys, "info", store)
    assert status == 2 and "'game' is 'brakeout'" in err and len(err.strip().splitlines()) == 1


def test_verify_and_readers_refuse_a_reordered_action_set(capsys, tmp_path, breakout_zarr):
    store = tmp_path / "edited.zarr"
    copy_store(breakout_zarr, store)
    edit_attrs(store, lambda attrs: attrs.update(action_set=[1, 0, 3, 4]))
    status, _, err = dataset(capsys, "verify", store)
    assert status == 2
    assert err.strip() == (
        f"{store}: document: store attribute 'action_set' is [1, 0, 3, 4], not breakout's minimal action set "
        "[0, 1, 3, 4] in ALE order"
    )
    with pytest.raises(UserError, match=r"'action_set' is \[1, 0, 3, 4\], not breakout's minimal action set"):
        TeacherDataset(store)


def test_verify_and_readers_refuse_a_preprocessing_the_settings_do_not_give(capsys, tmp_path, breakout_zarr):
    store = tmp_path / "edited.zarr"
    copy_store(breakout_zarr, store)
    edit_attrs(store, lambda attrs: attrs["preprocessing"].update(stack_padding="reset"))
    status, _, err = dataset(capsys, "verify", store)
    assert (
        status == 2 and "'preprocessing' is not what its Atari settings give (stack_padding 'zeros' vs 'reset')" in err
    )


def test_a_document_edited_by_hand_is_named_and_refused(capsys, tmp_path, breakout_zarr):
    store = tmp_path / "edited.zarr"
    copy_store(breakout_zarr, store)
    document = json.loads((store / "zarr.json").read_text())
    assert document["attributes"]["actor_mimic"]["seed"] == 0
    document["attributes"]["actor_mimic"]["seed"] = 7  # well formed, meaningful, and not what was written
    (store / "zarr.json").write_text(json.dumps(document))
    status, out, err = dataset(capsys, "verify", store)
    assert status == 2 and out == ""
    assert err.strip() == (
        f"{store}: document: its attribute document was edited after it was written (it no longer matches its "
        "document_sha256); re-download or recollect the store"
    )
    with pytest.raises(UserError, match="edited after it was written"):
        TeacherDataset(store)


def test_a_commit_that_claims_a_billion_rows_fails_in_seconds(capsys, tmp_path, breakout_zarr):
    store = tmp_path / "lying.zarr"
    copy_store(breakout_zarr, store)
    backend = open_backend(store, "a")
    attrs = backend.read_attrs()
    extra = 10**9 - attrs["lanes"][0]["steps"]
    attrs["lanes"][0]["steps"] += extra
    attrs["num_steps"] += extra
    for name in [*attrs["fields"], "hidden_ref"]:  # the arrays claim the rows too
        backend.resize(f"lanes/0/{name}", 10**9)
        backend.resize(f"lanes/0/checksums/{name}", 10**9 // attrs["chunk_len"] + 1)
    backend.write_attrs(attrs)
    backend.close()
    status, _, err = dataset(capsys, "verify", store)
    assert status == 2
    needed = -(-(10**9) // attrs["chunk_len"])
    assert f"chunks: lanes/0/frames: the commit needs {needed} chunks but " in err
    assert "the document claims rows the store lacks" in err


def test_an_amn_records_the_digest_of_every_store_it_trained_on(breakout_zarr, pong_conv_zarr):
    tasks = describe_tasks([GameStores("breakout", [str(breakout_zarr)]), GameStores("pong", [str(pong_conv_zarr)])])
    assert [record.digest for record in tasks.stores] == [digest_of(breakout_zarr), digest_of(pong_conv_zarr)]
    assert tasks.to_dict()["stores"][0]["digest"] == digest_of(breakout_zarr)


def test_pull_with_a_digest_installs_only_the_publishers_bytes(capsys, tmp_path, breakout_zarr):
    url = f"file://{breakout_zarr}"
    digest = digest_of(breakout_zarr)
    status, out, _ = dataset(capsys, "pull", "--no-progress", "--digest", digest, url, tmp_path / "good")
    assert status == 0 and f"verified; its digest is {digest}" in out
    assert digest_of(tmp_path / "good" / breakout_zarr.name) == digest

    mirror = tmp_path / "mirror" / breakout_zarr.name  # serves other (valid) bytes under the same name
    copy_store(breakout_zarr, mirror)
    edit_row(mirror, "lanes/0/q_values", 3, np.full(4, 7.0, dtype=np.float32))
    status, out, err = dataset(
        capsys, "pull", "--no-progress", "--digest", digest, f"file://{mirror}", tmp_path / "bad"
    )
    assert status == 2 and out == ""
    assert f"its digest is {digest_of(mirror)}, not the {digest} you asked for" in err
    assert not (tmp_path / "x" / breakout_zarr.name).exists()
    assert not (tmp_path / "x" / f"{breakout_zarr.name}.partial").exists()  # refused before any chunk

    status, _, err = dataset(capsys, "pull", "--no-progress", "--digest", "md5:abc", url, tmp_path / "typo")
    assert status == 2 and "give the store's digest as `amn dataset info` prints it, sha256:<64 hex>" in err


def test_pull_checks_an_hdf5_stores_digest_before_installing_it(capsys, tmp_path, breakout_h5):
    wrong = "sha256:" + "0" * 64
    status, _, err = dataset(capsys, "pull", "--no-progress", "--digest", wrong, f"file://{breakout_h5}", tmp_path)
    assert status == 2 and f"not the {wrong} you asked for" in err
    assert not (tmp_path / breakout_h5.name).exists()
    status, _, _ = dataset(
        capsys, "pull", "--no-progress", "--digest", digest_of(breakout_h5), f"file://{breakout_h5}", tmp_path
    )
    assert status == 0 and digest_of(tmp_path / breakout_h5.name) == digest_of(breakout_h5)


def test_convert_and_merge_name_their_inputs_digests(tmp_path, breakout_zarr, breakout_shards):
    converted = tmp_path / "converted.h5"
    assert main(["dataset", "convert", str(breakout_zarr), str(converted)]) == 0
    with open_store(converted) as (_, info):
        assert info.attrs["converted_from"]["digest"] == digest_of(breakout_zarr)
    merged = tmp_path / "merged.zarr"
    assert main(["dataset", "merge", str(merged), *map(str, breakout_shards)]) == 0
    with open_store(merged) as (_, info):
        assert info.attrs["merged"]["input_digests"] == [digest_of(path) for path in breakout_shards]
