"""Zendesk target: attachments (uploads and their tokens; to_vendor.comment points inline images at the copies)."""

from __future__ import annotations

import time
from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate import inline_images
from hdmigrate.adapter import Degradation
from hdmigrate.errors import FatalApiError, RecordError, RecordRejected

from . import to_vendor
from .values import TOKEN_LIFETIME


class FileWrites:
    """Mixin of ZendeskTarget: uploads and unused-token bookkeeping."""

    def _upload(self, comment: dict, attachment: dict, path: Path | None,
                degraded: list[Degradation]) -> str | None:
        sha = attachment.get("sha256") or ""
        key = (comment["id"], f"{attachment['id']}:{sha}")
        cached = self._tokens.get(key)
        if cached and time.monotonic() - cached[1] < TOKEN_LIFETIME:
            return cached[0]
        if path is None or not Path(path).exists():
            raise RecordError(f"attachment {attachment['id']}: blob {sha} is missing from staging",
                              kind="attachment", id=attachment["id"], field="sha256")
        data = Path(path).read_bytes()
        if not to_vendor.uploadable(attachment, len(data)):   # empty or too large: left out, said
            degraded += to_vendor.size_degradations(attachment, len(data))
            return None
        try:
            response = self.client.request(
                "POST", "/api/v2/uploads", params={"filename": self.file_name(attachment)},
                content=data, headers={"Content-Type": inline_images.image_type(attachment.get("content_type"), data)
                                       if attachment.get("inline") else  # a source may call an image octet-stream
                                       attachment.get("content_type") or "application/octet-stream"})
        except RecordRejected as e:
            # One file the account refuses (a forbidden type, a size the plan allows) never fails
            # its comment or ticket: left out and named.
            degraded.append(Degradation("attachment", attachment["id"], "file_name", codes.ATTACHMENT_REJECTED,
                                        f"Zendesk refused the upload: {e}"))
            return None
        self.uploads += 1
        upload = (response.json() or {}).get("upload") or {}
        token = upload.get("token")
        if not token:
            raise FatalApiError("POST /api/v2/uploads answered without a token")
        self._tokens[key] = (token, time.monotonic())
        self._token_keys[token] = key
        # where this account serves the file (ZD-OAS AttachmentUploadResponse): inline images point here
        self._content_urls[token] = (upload.get("attachment") or {}).get("content_url")
        return token

    def _forget_tokens(self, used) -> None:
        """Forget the upload tokens a sent request used (Zendesk consumes a token once)."""
        for token in used:
            key = self._token_keys.pop(token, None)
            if key is not None and self._tokens.get(key, ("",))[0] == token:   # not a newer upload's
                self._tokens.pop(key, None)
            self._content_urls.pop(token, None)    # a spent token's content_url is asked for no more

    # ------------------------------------------------------------ custom fields
