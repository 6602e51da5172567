"""env_file under a real master: the child sees the file's variables, `environment` wins, and
a reload re-reads the file (restarting the program whose environment changed)."""

from __future__ import annotations

from tests.harness import child, wait_for


def test_env_file_reaches_the_child_and_reload_rereads_it(start_master, tmp_path):
    env = tmp_path / "app.env"
    env.write_text('APP_NAME="Demo App"\nGREETING="hi ${APP_NAME}"\nAPP_ENV=local\n')
    config = f"""
        [programs.env]
        command = "{child("sleeper.py")}"
        env_file = ["{env}", "-{tmp_path}/missing.env"]
        environment = {{ APP_ENV = "production" }}
        """
    m = start_master(config)
    pid = m.wait_state("env:0", "RUNNING")["pid"]

    def child_env() -> dict[str, str]:
        import psutil

        return psutil.Process(m.state("env:0")["pid"]).environ()

    seen = child_env()
    assert seen["GREETING"] == "hi Demo App"
    assert seen["APP_ENV"] == "production"
    env.write_text('APP_NAME="Demo App"\nGREETING="changed"\n')
    result = m.cli("reload")
    assert result.returncode == 0, result.stderr
    assert "env" in result.stdout
    wait_for(lambda: m.state("env:0")["pid"] not in (None, pid), 10, "a restart after reload")
    m.wait_state("env:0", "RUNNING")
    assert child_env()["GREETING"] == "changed"
