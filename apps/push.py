"""`omnitune push RUN --repo_id user/name [--private]`: a run's model folder (weights, tokenizer or processor,
the model card with its model-index) or an exported ONNX folder, uploaded with huggingface_hub.

Whatever can fail without the Hub fails first, in one line, before a large file is read: no model folder, a
malformed repo id, no token, offline mode, an unreachable Hub. Pickled weights are never uploaded."""

from __future__ import annotations

from pathlib import Path

from shared import run_dir as layout
from shared.errors import OmnituneError

NEVER_PUSHED = (".bin", ".pt", ".pth", ".pkl", ".ckpt")  # pickles: the Hub copy stays safetensors-only


def model_to_push(model: str | Path) -> Path:
    folder = layout.model_folder(Path(model))
    if folder is None:
        raise OmnituneError(
            f"{model} holds no model folder (no config.json in it or in its model/)",
            "give a run folder (runs/<task>/<run>), its model/ folder or an exported run",
        )
    return folder


def files_to_push(folder: Path) -> list[str]:
    """Paths (relative to `folder`) of what the upload holds: every file but pickles and hidden files."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix not in NEVER_PUSHED
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def push(model: str | Path, repo_id: str, private: bool = False, token: str | None = None, log=print) -> str:
    """Upload the model folder to `repo_id` (created if needed); returns the repo's URL."""
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    folder = model_to_push(model)
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise OmnituneError(f"'{repo_id}' is not a Hub repo id ({error})", "name it user/model-name") from None
    token = token or get_token()
    if not token:
        raise OmnituneError(
            "no Hugging Face token: pushing needs one with write access",
            "run `hf auth login`, or set HF_TOKEN",
        )
    if constants.HF_HUB_OFFLINE:
        raise OmnituneError("the Hub is switched off here (HF_HUB_OFFLINE=1)", "push from a machine that is online")
    api = HfApi(token=token)
    try:
        user = api.whoami()["name"]
    except Exception as error:  # noqa: BLE001 - connection, proxy, DNS and HTTP errors all mean the same here
        raise OmnituneError(
            f"cannot reach the Hub ({type(error).__name__})",
            "push from a machine with network access (copy the run folder there), or check the token",
        ) from None
    files = files_to_push(folder)
    if not (folder / "README.md").is_file():
        log(f"note: {folder} has no model card (README.md); the repo will have none")
    log(f"pushing {len(files)} files from {folder} to {repo_id} as {user}{' (private)' if private else ''}...")
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id, folder_path=folder, allow_patterns=files, commit_message=f"omnitune: {folder.parent.name}"
    )
    return str(url)
