"""git clone/pull of private repositories. The token reaches git only through the
environment of one process (an http.extraHeader via GIT_CONFIG_*), never through argv, a
URL, a file, or any log line. User values never become git options: ones starting with '-'
are refused and positional arguments always follow ``--``."""

from __future__ import annotations

import base64
from pathlib import Path

from databuild_assets.core.errors import ConfigError
from databuild_assets.core.redact import redact_text
from databuild_assets.core.secrets import SecretResolver, env_secret

from .shell import ProcessOutcome, run


def _auth_env(token: str | None) -> dict[str, str]:
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.extraHeader",
                   GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}")
    return env


def _secrets(token: str | None) -> list[str]:
    if not token:
        return []
    return [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()]


def sync_repo(slug: str, params: dict, default_dest: Path, log=None,
              secret: SecretResolver = env_secret) -> ProcessOutcome:
    """git-clone, or git-pull (which clones when there is no checkout yet). ``secret``
    resolves ``token_env`` (the caller's resolver; default: environment, then secrets file)."""
    repo = params["repo"]
    for key in ("repo", "dest", "branch"):
        value = params.get(key)
        if isinstance(value, str) and value.lstrip().startswith("-"):
            raise ConfigError(f"git task: {key} {redact_text(value)!r} starts with '-'; git "
                              "would read it as an option, so it is refused")
    if "@" in repo.split("//", 1)[-1].split("/", 1)[0]:
        raise ConfigError("put the git token in an environment variable named by token_env, "
                          "not in the repository URL")
    token = None
    if params.get("token_env"):
        token = secret(params["token_env"])
        if token is None:
            raise ConfigError(f"git token variable {params['token_env']!r} is not set")
    dest = Path(params.get("dest") or default_dest)
    env = _auth_env(token)
    if slug == "git-pull" and (dest / ".git").exists():
        args = ["git", "-C", str(dest), "pull", "--ff-only", "--"]
    else:
        if dest.exists() and any(dest.iterdir()):
            raise ConfigError(f"cannot clone into {dest}: it exists and is not empty")
        branch = ["--branch", params["branch"]] if params.get("branch") else []
        args = ["git", "clone", *branch, "--", repo, str(dest)]  # `--`: never an option
    return run(args, env=env, secrets=_secrets(token), log=log,
               timeout=float(params.get("timeout") or 600))  # redacted, own process group
