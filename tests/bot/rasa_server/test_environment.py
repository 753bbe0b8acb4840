"""The Rasa server's environment defaults (telemetry off, one TensorFlow thread each); set values win."""

from __future__ import annotations

from bot.rasa_server.server import environment_defaults


def test_defaults_fill_only_what_is_unset():
    env = {"TF_INTRA_OP_PARALLELISM_THREADS": "4"}
    environment_defaults(env)
    assert env == {
        "TF_INTRA_OP_PARALLELISM_THREADS": "4",
        "TF_INTER_OP_PARALLELISM_THREADS": "1",
        "RASA_TELEMETRY_ENABLED": "false",
    }
