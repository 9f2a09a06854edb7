"""Degradations: what a target could not hold of one record, and their codes as constants.

A code is recorded with `(kind, id, field, detail)` for one record (`Degradation`), shown by
the dry run and `report`, and used by `verify` to explain a difference. The list below is the
documented one (docs/degradations.md, which a test keeps equal to `DOCUMENTED`; the contract's
codes in canonical-model.md are all here). Extend it, never reuse a code for another meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- the canonical-model.md codes
TIMESTAMP_NOT_PRESERVED = "timestamp_not_preserved"   # the target set its own time
AUTHOR_NOT_PRESERVED = "author_not_preserved"         # the target set another author
CHANNEL_NOT_PRESERVED = "channel_not_preserved"       # the target has no such channel
PRIVATE_FIRST_MESSAGE = "private_first_message"       # the target's opening message is public
ATTACHMENT_TOO_LARGE = "attachment_too_large"         # over the target's file size limit: left out
ATTACHMENT_EMPTY = "attachment_empty"                 # a 0-byte file the target refuses: left out
FIELD_TYPE_CHANGED = "field_type_changed"             # custom field written with another type
VALUE_UNMAPPED = "value_unmapped"                     # a value the target has no place or option for
CSAT_NOT_WRITABLE = "csat_not_writable"               # the target cannot import ratings: left out
INLINE_IMAGE_DETACHED = "inline_image_detached"       # an inline image became a plain attachment

# -- added by hdmigrate
ATTACHMENT_REJECTED = "attachment_rejected"           # the target refused the file (type, scan): left out
ATTACHMENT_URL_REFUSED = "attachment_url_refused"     # the file's URL is outside the source's hosts
ATTACHMENTS_NOT_SUPPORTED = "attachments_not_supported"  # the target has no attachments
ATTACHMENT_RENAMED = "attachment_renamed"             # the target stores the file under another name
FILE_NAME_CHANGED = "file_name_changed"               # a hostile or over-long file name was made safe
INLINE_IMAGE_REHOSTED = "inline_image_rehosted"       # an inline image now points at the target's copy
CSAT_SCALE_CHANGED = "csat_scale_changed"             # the rating was converted to the target's scale
CUSTOM_FIELD_NOT_CREATED = "custom_field_not_created"  # the target cannot create the field
CUSTOM_FIELDS_NOT_SUPPORTED = "custom_fields_not_supported"  # the target has no custom fields
ACCOUNT_DEFAULT_APPLIED = "account_default_applied"   # the target filled a value from its defaults
REFERENCE_MISSING = "reference_missing"               # an optional reference to a record not staged
REFERENCE_FAILED = "reference_failed"                 # an optional reference to a record that failed
RECORD_MERGED = "record_merged"                       # held in the target as another record (groups in one mailbox)
MATCHED_EXISTING = "matched_existing"                 # the target already had it (e-mail, name): kept as it is
UPDATE_NOT_APPLIED = "update_not_applied"             # a delta-run change the target cannot write
TEXT_REPAIRED = "text_repaired"                       # text repaired on the user's request ([repair])
THREADS_SPLIT = "threads_split"                       # over the target's messages per ticket: continued in another
PRIVACY_NOT_PRESERVED = "privacy_not_preserved"       # read back public though written private: make it private by hand
OPTION_VALUE_AS_LABEL = "option_value_as_label"       # a choice written as its label (the target's choices are labels)
ORIGINAL_TIMES_NOT_KEPT = "original_times_not_kept"   # the target refused the fields keeping the original ticket times
LINK_REWRITTEN = "link_rewritten"                     # a link to a source ticket now points at its new ticket
LINK_NOT_REWRITTEN = "link_not_rewritten"             # a link to a source ticket left as it was (not migrated, no page)

DOCUMENTED = frozenset(value for name, value in globals().items()
                       if name.isupper() and isinstance(value, str))


@dataclass(frozen=True)
class Degradation:
    """Part of a record the target cannot hold (also importable from hdmigrate.adapter)."""

    kind: str
    id: str
    field: str
    code: str
    detail: str = ""

    def __post_init__(self) -> None:
        # One documented list: a misspelt code would never explain anything.
        if self.code not in DOCUMENTED:
            raise ValueError(f"undocumented degradation code {self.code!r} (hdmigrate/degradations.py)")
