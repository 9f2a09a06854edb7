"""Zendesk target: attachments (uploads and their tokens) and inline images pointed at the copies."""

from __future__ import annotations

import time
from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate import inline_images
from hdmigrate.adapter import Degradation
from hdmigrate.errors import FatalApiError, RecordError, RecordRejected

from .values import MAX_UPLOAD, TOKEN_LIFETIME


class FileWrites:
    """Mixin of ZendeskTarget: uploads, inline-image rehosting, unused-token bookkeeping."""

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
        if not data:
            degraded.append(Degradation("attachment", attachment["id"], "size", codes.ATTACHMENT_EMPTY,
                                        "Zendesk refuses empty uploads; left out"))
            return None
        if len(data) > MAX_UPLOAD:
            degraded.append(Degradation("attachment", attachment["id"], "size", codes.ATTACHMENT_TOO_LARGE,
                                        f"{len(data)} bytes > {MAX_UPLOAD}; left out"))
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
        # where this account serves the file (ZD-OAS AttachmentUploadResponse): inline images point here
        self._content_urls[token] = (upload.get("attachment") or {}).get("content_url")
        return token

    def _rehost(self, comment: dict, attachments: list[dict], earlier: list[dict], uploaded: dict[str, str],
                degraded: list[Degradation]) -> dict:
        """The comment with every <img> that shows one of its files (or a file of an earlier
        comment of the ticket: a quoted reply) pointed at the copy uploaded to this account (the
        source's URL breaks when the old account closes); `cid:` references likewise. Only those
        src values change. What could not be re-hosted is recorded."""
        html_body = comment.get("body_html")
        shown = [a for a in attachments if inline_images.referenced(html_body, a)]
        quoted = [a for a in earlier if a.get("id") in uploaded and inline_images.referenced(html_body, a)]
        for a in attachments:
            if a.get("inline") and a not in shown:
                degraded.append(Degradation("attachment", str(a["id"]), "inline", codes.INLINE_IMAGE_DETACHED,
                                            "uploaded as a file of the comment; the comment's HTML shows no "
                                            "image of it"))
        if not shown and not quoted:
            return comment
        new_html, changed = inline_images.point_at(html_body, uploaded, shown + quoted)
        for a in shown:
            aid = str(a["id"])
            if aid in uploaded:
                degraded.append(Degradation("attachment", aid, "inline", codes.INLINE_IMAGE_REHOSTED,
                                            "uploaded to Zendesk; the comment's image points at this copy"))
            else:
                degraded.append(Degradation("comment", str(comment["id"]), "body_html.img_src",
                                            codes.INLINE_IMAGE_DETACHED,
                                            f"the image of attachment {aid} keeps its source URL: the file "
                                            "was not uploaded (see the attachment's own record)"))
        if changed:
            degraded.append(Degradation("comment", str(comment["id"]), "body_html.img_src", codes.INLINE_IMAGE_REHOSTED,
                                        f"{len(changed)} image src(s) rewritten to the files uploaded to Zendesk; "
                                        "the rest of the HTML is unchanged"))
        return {**comment, "body_html": new_html}

    def _forget_tokens(self, body: dict) -> None:
        used = {t for c in body.get("comments") or [] for t in c.get("uploads") or []}
        if used:
            self._tokens = {k: v for k, v in self._tokens.items() if v[0] not in used}

    # ------------------------------------------------------------ custom fields
