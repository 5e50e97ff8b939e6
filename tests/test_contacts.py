"""The contact list: address validation, CSV import/export, suppression and erasure."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import time
from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.mail.contacts import (
    Contact,
    ContactError,
    ImportReport,
    active_recipients,
    add_contact,
    address_hash,
    address_key,
    erase,
    export_csv,
    get_contact,
    import_csv,
    is_suppressed,
    list_contacts,
    mark_bounced,
    normalise_address,
    remove_contact,
    resubscribe,
    unsubscribe,
)
from newsletter.store import Store

DATA = Path(__file__).parent / "data" / "contacts"
NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "var" / "newsletter.db") as opened:
        yield opened


def dump(store: Store) -> str:
    """Every table's content as SQL text."""
    return "\n".join(store.db.iterdump())


# ---------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "text, expected",
    [
        ("kari@example.no", "kari@example.no"),
        ("  Kari.Nordmann@Example.NO \t", "Kari.Nordmann@example.no"),  # spaces go, the domain is lower-cased
        ("\ufeffkari@example.no\u200b", "kari@example.no"),  # a BOM or zero-width space pasted along
        ("post@blåbær.no", "post@blåbær.no"),
        ("post@BLÅBÆR.NO", "post@blåbær.no"),
        ("post@xn--blbr-roah.no", "post@blåbær.no"),  # the ASCII (punycode) form of the same domain
        ("first+tag@sub.example.com", "first+tag@sub.example.com"),
    ],
)
def test_normalise_good_addresses(text, expected):
    """Valid addresses come back normalised; an IDN domain keeps its Unicode form."""
    assert normalise_address(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("kari.example.no", "@-sign"),
        ("kari@example", "period"),
        ("kari..n@example.no", "two periods"),
        ("kari nordmann@example.no", ""),
        ("Kari <kari@example.no>", "display name"),
        ("kari@", ""),
    ],
)
def test_normalise_invalid_addresses(text, reason):
    """Invalid addresses raise ContactError naming the address and saying why."""
    with pytest.raises(ContactError) as caught:
        normalise_address(text)
    message = str(caught.value)
    assert message.startswith(f"'{text.strip()}': ")
    assert reason in message
    assert caught.value.reason and caught.value.reason in message
    assert isinstance(caught.value, NewsletterError)


def test_key_and_hash_are_case_insensitive():
    """Keys and hashes ignore case and the domain's encoding; the hash is SHA-256 hex of the key."""
    assert address_key("Kari@Example.NO") == address_key("kari@example.no") == "kari@example.no"
    assert address_key("Post@xn--blbr-roah.no") == "post@blåbær.no"
    assert address_hash("KARI@example.no") == address_hash(" kari@EXAMPLE.no ")
    assert len(address_hash("kari@example.no")) == 64
    assert "kari" not in address_hash("kari@example.no")


# ---------------------------------------------------------------------- single contacts


def test_add_merge_and_case_insensitive_uniqueness(store):
    """Adding the same address in another case merges: empty fields filled, tags unioned, nothing overwritten."""
    first, outcome = add_contact(store, Contact("Kari@Example.no", name="Kari", tags=("politi",)), NOW)
    assert outcome == "added" and first.id is not None and first.email == "Kari@example.no"
    merged, outcome = add_contact(
        store,
        Contact(
            "kari@example.no",
            name="Other Name",
            organisation="Kripos",
            tags=("Politi", "jus"),
            consent_date=dt.date(2024, 1, 2),
        ),
        NOW,
    )
    assert outcome == "merged"
    assert merged.id == first.id
    assert merged.name == "Kari"  # not overwritten
    assert merged.organisation == "Kripos"  # filled
    assert merged.tags == ("politi", "jus")  # union, case-insensitive
    assert merged.consent_date == dt.date(2024, 1, 2)
    assert len(list_contacts(store)) == 1
    assert get_contact(store, "KARI@EXAMPLE.NO").to_json() == {
        "id": first.id,
        "email": "Kari@example.no",
        "name": "Kari",
        "organisation": "Kripos",
        "tags": ["politi", "jus"],
        "legal_basis": "",
        "consent_source": "",
        "consent_date": "2024-01-02",
        "status": "active",
    }


def test_add_invalid_address_is_refused(store):
    """An invalid address never reaches the table."""
    with pytest.raises(ContactError, match="'not-an-address'"):
        add_contact(store, Contact("not-an-address"), NOW)
    assert list_contacts(store) == []


def test_remove_contact_allows_re_adding(store):
    """Removing deletes the row but is not suppression: the address may be added again."""
    add_contact(store, Contact("kari@example.no", name="Kari"), NOW)
    removed = remove_contact(store, "KARI@example.no")
    assert removed.name == "Kari"
    assert list_contacts(store) == []
    assert not is_suppressed(store, "kari@example.no")
    assert add_contact(store, Contact("kari@example.no"), NOW)[1] == "added"
    with pytest.raises(ContactError, match="'nobody@example.no': not in the contact list"):
        remove_contact(store, "nobody@example.no")


def test_removing_an_unsubscribed_contact_keeps_it_suppressed(store):
    """Removing the row of someone who unsubscribed must not let a later import re-activate them."""
    add_contact(store, Contact("kari@example.no"), NOW)
    unsubscribe(store, "kari@example.no", NOW)
    remove_contact(store, "kari@example.no")
    assert is_suppressed(store, "kari@example.no")
    contact, outcome = add_contact(store, Contact("kari@example.no"), NOW)
    assert outcome == "suppressed" and contact.id is None
    assert list_contacts(store) == []


def test_unsubscribe_and_bounce(store):
    """Unsubscribing and bouncing record the status and when it changed; adding again never re-activates."""
    add_contact(store, Contact("kari@example.no", name="Kari"), NOW)
    add_contact(store, Contact("per@example.no", name="Per"), NOW)
    later = NOW + dt.timedelta(days=1)
    assert unsubscribe(store, "Kari@example.no", later).status == "unsubscribed"
    mark_bounced(store, "per@example.no", "550 5.1.1 <per@example.no>: user unknown", later)
    row = store.db.execute("SELECT status, status_changed_at FROM contacts WHERE email_key = 'per@example.no'")
    assert tuple(row.fetchone()) == ("bounced", "2025-03-02T12:00:00.000000+00:00")  # UTC, to the microsecond
    assert is_suppressed(store, "KARI@example.no") and is_suppressed(store, "per@example.no")
    for address in ("kari@example.no", "per@example.no"):
        contact, outcome = add_contact(store, Contact(address, organisation="New org"), NOW)
        assert outcome == "suppressed" and contact.status != "active" and contact.organisation == ""
    mark_bounced(store, "kari@example.no", "550 gone", later)  # an unsubscribe is not turned into a bounce
    assert get_contact(store, "kari@example.no").status == "unsubscribed"


def test_a_person_who_unsubscribed_or_was_erased_may_be_subscribed_again_on_their_word(store):
    """Unsubscribing was the person's word, and so is asking back: with how they asked, kept as the consent."""
    add_contact(store, Contact("kari@example.no", name="Kari", consent_source="skjema"), NOW)
    unsubscribe(store, "kari@example.no", NOW)
    later = NOW + dt.timedelta(days=30)
    with pytest.raises(ContactError, match="say how the person asked to subscribe again"):
        resubscribe(store, Contact("kari@example.no"), later)
    assert get_contact(store, "kari@example.no").status == "unsubscribed"
    contact, outcome = resubscribe(store, Contact("Kari@example.no", consent_source=" e-post 31. mars "), later)
    assert outcome == "subscribed again" and contact.status == "active" and contact.name == "Kari"
    assert (contact.consent_source, contact.consent_date) == ("e-post 31. mars", later.date())
    assert not is_suppressed(store, "kari@example.no")
    assert contact.id is not None and store.contact_changes(contact.id)[-1][1:] == (
        "active",
        "subscribed again: e-post 31. mars",
    )
    assert resubscribe(store, Contact("kari@example.no", consent_source="igjen"), later)[1] == "already active"
    # Erased (or removed after unsubscribing): only the hash is left; asked back, the contact is added anew.
    add_contact(store, Contact("per@example.no"), NOW)
    erase(store, "per@example.no", NOW, store.path.parent / "outbox")
    assert add_contact(store, Contact("per@example.no"), later)[1] == "suppressed"
    per, outcome = resubscribe(store, Contact("per@example.no", consent_source="telefon"), later)
    assert outcome == "added" and per.status == "active" and active_recipients(store)[-1].email == "per@example.no"
    # A bounce is about the address, not the person's word: `reactivate` is the way back.
    add_contact(store, Contact("ola@example.no"), NOW)
    mark_bounced(store, "ola@example.no", "550 5.1.1 no such user", NOW)
    with pytest.raises(ContactError, match="bounced, not unsubscribed: if the address works, `newsletter contacts "):
        resubscribe(store, Contact("ola@example.no", consent_source="e-post"), later)
    assert get_contact(store, "ola@example.no").status == "bounced"
    remove_contact(store, "ola@example.no")  # only the address's hash is left, suppressed as bounced
    with pytest.raises(ContactError, match="bounced, not unsubscribed"):
        resubscribe(store, Contact("ola@example.no", consent_source="e-post"), later)
    assert (
        is_suppressed(store, "ola@example.no")
        and add_contact(store, Contact("ola@example.no"), later)[1] == "suppressed"
    )


def test_unsubscribe_unknown_address_suppresses_it(store):
    """An unsubscribe for an address not in the list still keeps it from being added later."""
    contact = unsubscribe(store, "Stranger@example.no", NOW)
    assert contact.id is None and contact.status == "unsubscribed"
    assert is_suppressed(store, "stranger@example.no")
    assert add_contact(store, Contact("stranger@example.no"), NOW)[1] == "suppressed"


def test_calls_inside_an_open_transaction(store):
    """The sender may mark a bounce inside its own transaction (no nested BEGIN)."""
    add_contact(store, Contact("per@example.no"), NOW)
    with store.transaction():
        mark_bounced(store, "per@example.no", "550 no such user", NOW)
    assert get_contact(store, "per@example.no").status == "bounced"


# ---------------------------------------------------------------------- CSV import


def test_import_utf8_bom_comma(store):
    """bom_comma.csv: UTF-8 with BOM, `,`-separated, quoted cell with a comma, IDN domain,
    tags split on `|` and `,`, both date formats, padded address; defaults fill only empty fields."""
    report = import_csv(
        store,
        DATA / "bom_comma.csv",
        NOW,
        defaults={"legal_basis": "consent", "consent_source": "import bom_comma.csv"},
    )
    assert report == ImportReport(added=3, merged=0, suppressed=0, invalid=[])
    by_email = {c.email: c for c in list_contacts(store)}
    assert set(by_email) == {"kari.nordmann@example.no", "post@blåbær.no", "Ola.Hansen@example.com"}
    kari = by_email["kari.nordmann@example.no"]
    assert kari.organisation == "Politiet, Oslo"
    assert kari.tags == ("politi", "jus")
    assert kari.legal_basis == "legitimate interest"  # not overwritten by the default
    assert kari.consent_source == "conference 2024"
    assert kari.consent_date == dt.date(2024, 3, 1)
    bjorn = by_email["post@blåbær.no"]
    assert bjorn.name == "Bjørn Åse" and bjorn.organisation == "Blåbær AS"
    assert bjorn.consent_date == dt.date(2023, 6, 15)
    assert bjorn.legal_basis == "consent" and bjorn.consent_source == "import bom_comma.csv"
    assert by_email["Ola.Hansen@example.com"].tags == ("ngo", "forskning")


def test_import_semicolon_windows_1252(store):
    """semicolon_cp1252.csv: Windows-1252 bytes (not valid UTF-8), `;`-separated, CRLF, Norwegian
    headers (E-post, Navn, Organisasjon); æøå must come out right and a quoted `;` stays in its cell."""
    raw = (DATA / "semicolon_cp1252.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    report = import_csv(store, DATA / "semicolon_cp1252.csv", NOW)
    assert (report.added, report.merged, report.invalid) == (3, 0, [])
    by_email = {c.email: c for c in list_contacts(store)}
    assert by_email["ase@example.no"].name == "Åse Ødegård"
    assert by_email["paer@example.no"].name == "Pær Æsøy"
    assert by_email["paer@example.no"].organisation == "Støttesenteret mot menneskehandel"
    assert by_email["paer@example.no"].tags == ("ngo", "støtte")
    assert by_email["lars@example.no"].organisation == "Krisesenter; Tromsø"
    assert by_email["lars@example.no"].tags == ()


def test_import_windows_1252_with_a_byte_it_leaves_undefined(store, tmp_path):
    """0x81 has no character in Windows-1252: the file is still read as Windows-1252, as browsers read
    it (the odd byte becomes the control character U+0081), so its € and ø survive."""
    path = tmp_path / "odd.csv"
    path.write_bytes(b"email;name;organisation\r\nper@example.no;Per S\xf8rli;Bistand \x80 AS\x81\r\n")
    assert import_csv(store, path, NOW).added == 1
    per = get_contact(store, "per@example.no")
    assert per.name == "Per Sørli" and per.organisation.startswith("Bistand € AS")


def test_import_utf8_file_with_a_latin1_line_reads_each_line_right_and_names_it(store):
    """mixed_utf8_latin1.csv: UTF-8, but line 3 was saved in Latin-1. Read whole as Windows-1252 it
    gave "BjÃ¸rn Ã˜degÃ¥rd" without a word; each line in its own encoding, and line 3 named."""
    report = import_csv(store, DATA / "mixed_utf8_latin1.csv", NOW)
    assert (report.added, report.invalid, report.recoded) == (3, [], [3])
    names = {c.email: (c.name, c.organisation) for c in list_contacts(store)}
    assert names == {
        "bjorn@example.no": ("Bjørn Ødegård", "Blåbær AS"),
        "asa@example.no": ("Åsa Sørli", "Støttesenteret"),
        "per@example.no": ("Per Æsøy", "Kirkens Bymisjon"),
    }


def test_import_cli_names_the_line_read_as_windows_1252(sample_workspace):
    from tests.test_send_cli import invoke

    path = DATA / "mixed_utf8_latin1.csv"
    result = invoke(sample_workspace, "contacts", "import", str(path))
    assert result.exit_code == 0
    assert result.stderr == (
        f"{path}, line 3: not UTF-8 like the rest of the file (saved in another encoding?); "
        "read as Windows-1252: check the row with `newsletter contacts list`\n"
    )
    assert result.stdout == "added 3, merged 0, kept suppressed 0, invalid 0\n"
    listed = invoke(sample_workspace, "contacts", "list").stdout
    assert "Bjørn Ødegård" in listed and "Åsa Sørli" in listed and "Ã" not in listed


def test_import_names_the_columns_it_does_not_read(store, tmp_path):
    """A spreadsheet's phone column, or a second e-mail column, is not kept: the report says which, by column."""
    path = tmp_path / "kontakter.csv"
    path.write_text(
        "E-post;Navn;Telefon;;Email;Adresse\nkari@example.no;Kari;99887766;;kari@jobb.no;Storgata 1\n", "utf-8"
    )
    report = import_csv(store, path, NOW)
    assert report.added == 1
    assert report.ignored == [
        (3, "Telefon", "not a contact field"),
        (5, "Email", "a second 'email' column; 'E-post' is read"),
        (6, "Adresse", "not a contact field"),
    ]
    assert get_contact(store, "kari@example.no").name == "Kari"


def test_import_cli_names_the_columns_it_does_not_read(sample_workspace, tmp_path):
    from tests.test_send_cli import invoke

    path = tmp_path / "kontakter.csv"
    path.write_text("email,name,phone\nkari@example.no,Kari,99887766\n", "utf-8")
    result = invoke(sample_workspace, "contacts", "import", str(path))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"{path}, column 3 'phone': not imported (not a contact field)",
        f"{path}: the columns read are email, name, organisation, tags, legal_basis, consent_source, consent_date, "
        "status (also e-post, navn, organisasjon); the values of the columns above are not kept: rename a column "
        "to one of these if it should be",
    ]
    assert result.stdout == "added 1, merged 0, kept suppressed 0, invalid 0\n"


def test_import_puts_names_and_organisations_on_one_line(store, tmp_path):
    """A quoted cell with a line break (CR LF inside the quotes) or a run of spaces and tabs is one line,
    one space between the words: `contacts list` once printed half the name on a line of its own."""
    path = tmp_path / "linjeskift.csv"
    path.write_bytes(b'email,name,organisation\r\nkari@example.no,"Kari\r\n  Nordmann","Kirkens \t Bymisjon\n"\r\n')
    assert import_csv(store, path, NOW).added == 1
    kari = get_contact(store, "kari@example.no")
    assert (kari.name, kari.organisation) == ("Kari Nordmann", "Kirkens Bymisjon")


def test_import_refuses_an_address_with_a_control_character(store, tmp_path):
    """An address cell with a line break in it, even at its end, is a broken row: refused by line number."""
    path = tmp_path / "adresse.csv"
    path.write_bytes(b'email,name\n"kari@example.no\n",Kari\nola@exa\x07mple.no,Ola\nper@example.no,Per\n')
    report = import_csv(store, path, NOW)
    assert report.added == 1
    assert [(line, raw) for line, raw, _ in report.invalid] == [(2, "kari@example.no"), (4, "ola@exa\x07mple.no")]
    assert "a control character (U+000A) in the address" in report.invalid[0][2]
    assert "a control character (U+0007) in the address" in report.invalid[1][2]
    with pytest.raises(ContactError, match=r"^'kari@example.no\\x0a': a control character \(U\+000A\)"):
        normalise_address("kari@example.no\n")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param('email,tags\nkari@example.no,"politi;jus; offentlig sektor"\n', id="semicolons-in-a-comma-file"),
        pytest.param('email;tags\nkari@example.no;"politi;jus;offentlig sektor"\n', id="quoted-in-a-semicolon-file"),
        pytest.param('email,tags\nkari@example.no,"politi,jus,offentlig sektor"\n', id="quoted-commas"),
        pytest.param("email;tags\nkari@example.no;politi|jus|offentlig sektor|JUS\n", id="pipes-as-exported"),
    ],
)
def test_import_splits_several_tags(store, tmp_path, content):
    """A tags cell `a;b` was one tag "a;b": `|`, `,` and `;` all separate tags, spaces do not."""
    path = tmp_path / "tags.csv"
    path.write_text(content, encoding="utf-8")
    assert import_csv(store, path, NOW).added == 1
    assert get_contact(store, "kari@example.no").tags == ("politi", "jus", "offentlig sektor")


def test_import_duplicates_differing_in_case(store):
    """duplicates_case.csv: the same address three times in different case is one contact; the first
    non-empty value of each field wins and the tags are unioned (case-insensitively)."""
    add_contact(store, Contact("per@example.no", name="Per Lie", tags=("politi",)), NOW)
    report = import_csv(store, DATA / "duplicates_case.csv", NOW)
    assert (report.added, report.merged, report.suppressed, report.invalid) == (1, 3, 0, [])
    contacts = list_contacts(store)
    assert [c.email for c in contacts] == ["Anne@example.no", "per@example.no"]
    anne = contacts[0]
    assert anne.name == "Anne Berg" and anne.organisation == "Kripos"
    assert anne.tags == ("politi", "jus", "forskning")
    assert contacts[1].tags == ("politi",)


def test_import_lists_invalid_rows_with_line_numbers(store):
    """invalid_rows.csv: a blank line (3), a cell spanning lines 5-6, then bad rows on lines 4 (no @),
    7 (two dots), 8 (31.02.2024 is no date) and 9 (no address) are listed; lines 2, 5 and 10 import."""
    report = import_csv(store, DATA / "invalid_rows.csv", NOW)
    assert report.added == 3
    assert [(line, raw) for line, raw, _ in report.invalid] == [
        (4, "no-at-sign.example.no"),
        (7, "two..dots@example.no"),
        (8, "bad.date@example.no"),
        (9, ""),
    ]
    reasons = [reason for _, _, reason in report.invalid]
    assert "@-sign" in reasons[0]
    assert "two periods" in reasons[1]
    assert "consent_date '31.02.2024'" in reasons[2]
    assert "empty" in reasons[3]
    assert [c.email for c in list_contacts(store)] == ["good.one@example.no", "good.two@example.no", "two@example.no"]
    # The line break in the quoted cell is one space: `contacts list` shows each contact on one line.
    assert get_contact(store, "two@example.no").organisation == "Multi line organisation"
    assert get_contact(store, "good.two@example.no").consent_date == dt.date(2024, 2, 1)


def test_import_without_email_header_names_the_file(store):
    """no_email_header.csv: no `email`/`e-post` column in the first line: nothing imported, the error names
    the file and what the header must hold."""
    path = DATA / "no_email_header.csv"
    with pytest.raises(ContactError) as caught:
        import_csv(store, path, NOW)
    assert str(path) in str(caught.value) and "'email'" in str(caught.value)
    assert list_contacts(store) == []


def test_import_empty_or_missing_file(store, tmp_path):
    """An empty or unreadable file is an error naming it."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf\n\n")
    with pytest.raises(ContactError, match="empty.csv: the file is empty"):
        import_csv(store, empty, NOW)
    with pytest.raises(ContactError, match="missing.csv: cannot read"):
        import_csv(store, tmp_path / "missing.csv", NOW)


def test_import_never_reactivates_suppressed(store):
    """suppressed_again.csv: an unsubscribed address (in other case) stays unsubscribed, a bounced one
    stays bounced, an erased one gets no row at all; only the fresh address is added."""
    add_contact(store, Contact("gone@example.no", name="Gone"), NOW)
    add_contact(store, Contact("bounce@example.no", name="Bounce"), NOW)
    add_contact(store, Contact("erased@example.no", name="Erased Person"), NOW)
    unsubscribe(store, "gone@example.no", NOW)
    mark_bounced(store, "bounce@example.no", "550 5.1.1 user unknown", NOW)
    erase(store, "erased@example.no", NOW, store.path.parent / "outbox")

    report = import_csv(store, DATA / "suppressed_again.csv", NOW)
    assert (report.added, report.merged, report.suppressed, report.invalid) == (1, 0, 3, [])
    statuses = {c.email: (c.status, c.name, c.tags) for c in list_contacts(store)}
    assert statuses == {
        "gone@example.no": ("unsubscribed", "Gone", ()),
        "bounce@example.no": ("bounced", "Bounce", ()),
        "fresh@example.no": ("active", "Fresh Person", ("ngo",)),
    }
    assert [c.email for c in active_recipients(store)] == ["fresh@example.no"]


def test_export_import_round_trip_keeps_status(store, tmp_path):
    """An export imports into a new store unchanged, unsubscribed contacts included (never active again)."""
    add_contact(
        store,
        Contact(
            "kari@example.no",
            name="Kari, Nordmann",
            organisation="Politiet",
            tags=("politi", "jus"),
            legal_basis="consent",
            consent_source="form",
            consent_date=dt.date(2024, 5, 6),
        ),
        NOW,
    )
    add_contact(store, Contact("post@blåbær.no", name="Åse"), NOW)
    unsubscribe(store, "post@blåbær.no", NOW)
    out = io.StringIO()
    export_csv(list_contacts(store), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "email,name,organisation,tags,legal_basis,consent_source,consent_date,status"
    assert lines[1] == 'kari@example.no,"Kari, Nordmann",Politiet,politi|jus,consent,form,2024-05-06,active'
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    with Store(tmp_path / "other.db") as other:
        report = import_csv(other, path, NOW)
        assert (report.added, report.invalid) == (2, [])
        assert [c.to_json() | {"id": None} for c in list_contacts(other)] == [
            c.to_json() | {"id": None} for c in list_contacts(store)
        ]
        assert [c.email for c in active_recipients(other)] == ["kari@example.no"]


# ---------------------------------------------------------------------- erasure


def test_erase_leaves_no_personal_data(store, tmp_path):
    """After erase the address (any case or encoding) and the name are nowhere in the database's text,
    nor in the database file's bytes, nor in an export; the hash keeps the address suppressed for good."""
    add_contact(
        store, Contact("Sigrid.Solberg@Blåbær.no", name="Sigrid Solbergsen", organisation="Org", tags=("ngo",)), NOW
    )
    add_contact(store, Contact("keep@example.no", name="Keep Me"), NOW)
    for issue in ("2024-4", "2025-1"):
        for position, email in enumerate(("Sigrid.Solberg@blåbær.no", "keep@example.no")):
            store.db.execute(
                "INSERT INTO sends (issue, email, contact_id, position, state, last_reply) VALUES (?, ?, ?, ?, ?, ?)",
                (issue, email, position + 1, position, "sent", f"250 2.0.0 OK queued for <{email.lower()}>"),
            )
    store.db.execute(
        "INSERT INTO sends (issue, email, position) VALUES ('2025-2', 'sigrid.solberg@xn--blbr-roah.no', 0)"
    )

    erase(store, "SIGRID.SOLBERG@blåbær.no", NOW, store.path.parent / "outbox")

    digest = address_hash("sigrid.solberg@blåbær.no")
    text = dump(store).lower()
    for secret in ("sigrid", "solberg", "xn--blbr-roah"):
        assert secret not in text
    assert "keep@example.no" in text
    assert is_suppressed(store, "Sigrid.Solberg@blåbær.no")
    assert store.db.execute("SELECT reason FROM suppressed WHERE hash = ?", (digest,)).fetchone()[0] == "erased"
    ledger = store.db.execute("SELECT issue, email, contact_id FROM sends ORDER BY issue, position").fetchall()
    assert [tuple(r) for r in ledger] == [
        ("2024-4", f"erased:{digest}", None),
        ("2024-4", "keep@example.no", 2),
        ("2025-1", f"erased:{digest}", None),
        ("2025-1", "keep@example.no", 2),
        ("2025-2", f"erased:{digest}", None),
    ]

    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in store.path.parent.iterdir():  # the database file, its WAL and shared memory
        raw = path.read_bytes()
        for secret in ("Sigrid", "sigrid", "Solbergsen"):
            assert secret.encode() not in raw, path.name

    out = io.StringIO()
    export_csv(list_contacts(store), out)
    assert "sigrid" not in out.getvalue().lower() and "keep@example.no" in out.getvalue()

    contact, outcome = add_contact(store, Contact("sigrid.solberg@blåbær.no", name="Sigrid Solbergsen"), NOW)
    assert outcome == "suppressed" and contact.id is None
    assert "sigrid" not in dump(store).lower()
    assert [c.email for c in active_recipients(store)] == ["keep@example.no"]


def test_erase_unknown_address_still_suppresses(store):
    """An erasure request for an address not in the list records the hash so it is never added."""
    erase(store, "never@example.no", NOW, store.path.parent / "outbox")
    assert is_suppressed(store, "NEVER@example.no")
    assert "never@" not in dump(store)


def test_erase_deletes_the_outbox_messages_to_the_address_and_keeps_the_others(store, tmp_path):
    """The outbox (dry runs, test copies) holds whole messages; erasing without the command line deletes
    the address's, in every issue's folder and under its IDNA spelling, and leaves everyone else's."""
    add_contact(store, Contact("Sigrid@Blåbær.no", name="Sigrid Solbergsen"), NOW)
    outbox = tmp_path / "var" / "outbox"
    doomed = [outbox / "2024-q2" / "sigrid@xn--blbr-roah.no.eml", outbox / "2024-q3" / "sigrid@blåbær.no.eml"]
    kept = [
        outbox / "2024-q2" / "keep@example.no.eml",
        outbox / "2024-q2" / "notes.txt",
        tmp_path / "sigrid@blåbær.no.eml",
    ]
    for path in doomed + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"To: someone\r\n\r\nHello\r\n")

    removed = erase(store, "SIGRID@blåbær.no", NOW, outbox)

    assert sorted(removed) == sorted(doomed)
    assert not any(path.exists() for path in doomed)
    assert all(path.exists() for path in kept)
    assert erase(store, "sigrid@blåbær.no", NOW, outbox) == []  # a second request finds nothing left


# ---------------------------------------------------------------------- recipients


def test_active_recipients_excludes_suppressed_and_filters_by_tag(store):
    """Only active, unsuppressed contacts receive an issue; a tag narrows them (case-insensitively)."""
    add_contact(store, Contact("a@example.no", tags=("politi",)), NOW)
    add_contact(store, Contact("b@example.no", tags=("ngo",)), NOW)
    add_contact(store, Contact("c@example.no", tags=("politi", "ngo")), NOW)
    add_contact(store, Contact("d@example.no", tags=("politi",)), NOW)
    add_contact(store, Contact("e@example.no", tags=("politi",)), NOW)
    add_contact(store, Contact("f@example.no", tags=("politi",)), NOW)
    unsubscribe(store, "b@example.no", NOW)
    mark_bounced(store, "d@example.no", "550 no such user", NOW)
    # An active row whose hash is suppressed (e.g. restored from an old backup) is not mailed either.
    store.db.execute(
        "INSERT INTO suppressed (hash, reason, at) VALUES (?, 'erased', ?)",
        (address_hash("e@example.no"), NOW.isoformat()),
    )
    assert [c.email for c in active_recipients(store)] == ["a@example.no", "c@example.no", "f@example.no"]
    assert [c.email for c in active_recipients(store, tag="POLITI")] == ["a@example.no", "c@example.no", "f@example.no"]
    assert [c.email for c in active_recipients(store, tag="ngo")] == ["c@example.no"]
    assert [c.email for c in list_contacts(store, status="unsubscribed")] == ["b@example.no"]
    assert [c.email for c in list_contacts(store, tag="ngo")] == ["b@example.no", "c@example.no"]
    with pytest.raises(ContactError, match="unknown status"):
        list_contacts(store, status="gone")


# ---------------------------------------------------------------------- volume


def test_import_20000_contacts_quickly(store, tmp_path):
    """20,000 rows (a few repeated in other case) import in well under 10 seconds."""
    path = tmp_path / "big.csv"
    lines = ["email;name;organisation;tags"]
    lines += [f"person{i}@org{i % 97}.example.no;Person {i};Org {i % 97};tag{i % 5}" for i in range(19_990)]
    lines += [f"PERSON{i}@ORG{i % 97}.EXAMPLE.NO;;;extra" for i in range(10)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    report = import_csv(store, path, NOW, defaults={"consent_source": "import big.csv"})
    elapsed = time.perf_counter() - started
    assert (report.added, report.merged, report.invalid) == (19_990, 10, [])
    assert elapsed < 10, f"import took {elapsed:.1f} s"
    assert store.db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 19_990
    assert len(active_recipients(store, tag="tag3")) == 3_998
    assert get_contact(store, "person0@org0.example.no").tags == ("tag0", "extra")


def test_store_is_plain_sqlite(store):
    """The contacts live in the workspace database (sanity check on the schema the module relies on)."""
    add_contact(store, Contact("kari@example.no"), NOW)
    with sqlite3.connect(store.path) as other:
        assert other.execute("SELECT email_key, tags FROM contacts").fetchall() == [("kari@example.no", "[]")]


def test_an_opt_out_row_with_a_broken_consent_date_still_suppresses_its_address(store, tmp_path):
    """Dropped as invalid, the opt-out was lost, and the next import of the address made it active."""
    path = tmp_path / "avmeldte.csv"
    path.write_text("email;name;status;consent_date\noptout@example.org;Opt Out;unsubscribed;30.02.2022\n", "utf-8")
    report = import_csv(store, path, NOW)
    assert report.invalid == []
    assert report.kept == [
        (
            2,
            "optout@example.org",
            "consent_date '30.02.2022' is not a date; use YYYY-MM-DD or DD.MM.YYYY; imported as unsubscribed "
            "without it (an opt-out is never dropped)",
        )
    ]
    again = tmp_path / "liste.csv"
    again.write_text("email;name\noptout@example.org;Opt Out\n", "utf-8")
    import_csv(store, again, NOW)
    assert get_contact(store, "optout@example.org").status == "unsubscribed"
    # An active row with the same fault is still refused, by its line.
    broken = tmp_path / "aktive.csv"
    broken.write_text("email;consent_date\nny@example.org;30.02.2022\n", "utf-8")
    assert [line for line, _, _ in import_csv(store, broken, NOW).invalid] == [2]
