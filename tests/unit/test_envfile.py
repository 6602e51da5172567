"""env_file: a Laravel `.env` loads as documented in procsup/config/envfile.py and the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from procsup.config.envfile import load_env_files, parse_dotenv

LARAVEL_ENV = Path(__file__).parents[1] / "fixtures" / "migrate" / "laravel-env" / ".env"


def test_a_laravel_env_loads_as_documented():
    env = load_env_files((str(LARAVEL_ENV),), {})
    assert env["APP_NAME"] == "Laravel"
    assert env["APP_KEY"] == "base64:c2VjcmV0LWtleS1mb3ItdGVzdHM="  # '=' inside the value
    assert env["APP_DEBUG"] == "true"
    assert env["DB_PASSWORD"] == ""  # empty value
    assert env["EMPTY_QUOTES"] == ""
    assert env["MAIL_FROM_NAME"] == "Laravel"  # ${APP_NAME} from earlier in the file
    assert env["VITE_APP_NAME"] == "Laravel"
    assert env["QUEUE_CONNECTION"] == "redis"  # `export` is ignored
    assert env["QUOTED_HASH"] == "a # not a comment"
    assert env["INLINE"] == "value"  # ` # …` after an unquoted value is a comment
    assert env["SINGLE"] == "literal ${APP_NAME}"  # single quotes are literal, as in Laravel
    assert env["UNSET_REF"] == "${NOT_SET_ANYWHERE}"  # left as written, as phpdotenv does
    assert env["WITH_DEFAULT"] == "fallback"  # docker compose's ${X:-default}
    assert env["MULTI"] == "line one\nline two"
    assert env["ESCAPED"] == "tab\tnewline\n"
    assert "LOG_CHANNEL" in env and len(env) == 20


def test_the_documented_differences_from_laravel():
    assert parse_dotenv('D="\\$HOME"\n', {"HOME": "/root"}) == {"D": "\\$HOME"}
    assert parse_dotenv("B='it\\'s'\n", {}) == {"B": "it's"}


def test_references_look_in_the_file_first_then_the_master_environment():
    assert parse_dotenv("A=${HOME_X}/a\n", {"HOME_X": "/h"}) == {"A": "/h/a"}
    assert parse_dotenv("HOME_X=/f\nA=${HOME_X}\n", {"HOME_X": "/h"})["A"] == "/f"


def test_later_files_win_and_dash_means_optional(tmp_path: Path):
    (tmp_path / "a.env").write_text("X=1\nY=1\n")
    (tmp_path / "b.env").write_text("Y=2\nZ=${X}${Y}\n")
    files = (str(tmp_path / "a.env"), str(tmp_path / "b.env"), "-" + str(tmp_path / "no.env"))
    assert load_env_files(files, {}) == {"X": "1", "Y": "2", "Z": "12"}
    with pytest.raises(ValueError, match=r"no\.env not found; create it, or write '-"):
        load_env_files((str(tmp_path / "no.env"),), {})


def test_a_bad_line_is_named(tmp_path: Path):
    (tmp_path / ".env").write_text("GOOD=1\nthis is not a line\n")
    with pytest.raises(ValueError, match=r"\.env: line 2: not NAME=value"):
        load_env_files((str(tmp_path / ".env"),), {})


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "procsup.toml"
    path.write_text(body)
    return path


def test_env_file_in_the_config_merges_under_environment(tmp_path: Path):
    from procsup.config.load import load_config

    (tmp_path / ".env").write_text('APP_ENV=local\nAPP_NAME="Demo"\n')
    path = _config(
        tmp_path,
        '[programs.w]\ncommand = "sleep 1"\nenv_file = ".env"\n'
        'environment = { APP_ENV = "production" }\n'
        '[tasks.t]\ncommand = "true"\nschedule = "@daily"\nenv_file = ["-missing.env", ".env"]\n',
    )
    config = load_config(path)
    assert config.programs["w"].environment == {"APP_ENV": "production", "APP_NAME": "Demo"}
    assert config.programs["w"].env_file == (str(tmp_path / ".env"),)
    assert config.tasks["t"].environment == {"APP_ENV": "local", "APP_NAME": "Demo"}


def test_a_missing_env_file_is_a_config_error_with_its_key_path(tmp_path: Path):
    from procsup.config.load import ConfigError, load_config

    path = _config(tmp_path, '[programs.w]\ncommand = "sleep 1"\nenv_file = "nope.env"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    (issue,) = err.value.issues
    assert issue.key == "programs.w.env_file"
    assert "nope.env not found" in issue.message
    path = _config(tmp_path, '[programs.w]\ncommand = "sleep 1"\nenv_file = 3\n')
    with pytest.raises(ConfigError, match=r"programs\.w\.env_file = 3: expected a file name"):
        load_config(path)


def test_save_does_not_copy_env_file_values_into_the_config(tmp_path: Path):
    from procsup.config.dump import program_to_dict
    from procsup.config.load import load_config

    (tmp_path / ".env").write_text("SECRET=s3cret\n")
    path = _config(
        tmp_path,
        '[programs.w]\ncommand = "sleep 1"\nenv_file = ".env"\nenvironment = { A = "1" }\n',
    )
    config = load_config(path)
    table = program_to_dict(config.programs["w"], config.master.log_dir)
    assert table["environment"] == {"A": "1"}
    assert table["env_file"] == [str(tmp_path / ".env")]
