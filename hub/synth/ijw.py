"""Renders a simulated municipality as iJw 3.2 XML messages, valid against the XSDs.

JW301, JW305, JW307 and JW315 carry one Client each (the XSD allows no more), so those are
one file per client event; JW323 and JW325 are one file per provider per claim. Only what
was sent by the day the data is as of is written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from html import escape
from itertools import groupby

from hub.synth.claims import Claim, Line
from hub.synth.world import Assignment, MunicipalityWorld, Period

BASE_NS = "http://www.istandaarden.nl/ijw/3_2/basisschema/schema"
CODES = {
    "JW301": "436",
    "JW305": "438",
    "JW307": "440",
    "JW315": "446",
    "JW323": "490",
    "JW325": "491",
}
XSD_VERSION = "1.0.0"


class Message:
    """One message being built: elements without a prefix get the message's namespace."""

    def __init__(self, kind: str, ident: str, day: date) -> None:
        self.kind, self.ident, self.day = kind, ident, day
        self.prefix = kind.lower()

    def el(self, name: str, *children: str) -> str:
        name = name if ":" in name else f"{self.prefix}:{name}"
        return f"<{name}>\n" + "\n".join([c for c in children if c]) + f"\n</{name}>"

    def tx(self, name: str, value: object) -> str:
        name = name if ":" in name else f"{self.prefix}:{name}"
        text = value if isinstance(value, str) else str(value)
        if "&" in text or "<" in text or ">" in text:
            text = escape(text, quote=False)
        return f"<{name}>{text}</{name}>"

    def header(self, sender: str, receiver: str, *extra: str) -> str:
        p = self.prefix
        tail = "".join(f"\n{x}" for x in extra if x)
        return (
            f"<{p}:Header>\n<{p}:BerichtCode>{CODES[self.kind]}</{p}:BerichtCode>\n"
            f"<{p}:BerichtVersie>3</{p}:BerichtVersie>\n"
            f"<{p}:BerichtSubversie>2</{p}:BerichtSubversie>\n"
            f"<{p}:Afzender>{sender}</{p}:Afzender>\n<{p}:Ontvanger>{receiver}</{p}:Ontvanger>\n"
            f"{self.identification('BerichtIdentificatie', self.ident, self.day)}\n"
            f"{self.versions('XsdVersie')}{tail}\n</{p}:Header>"
        )

    def identification(self, name: str, ident: str, day: date) -> str:
        p = self.prefix
        return (
            f"<{p}:{name}>\n<ijw:Identificatie>{ident}</ijw:Identificatie>\n"
            f"<ijw:Dagtekening>{day.isoformat()}</ijw:Dagtekening>\n</{p}:{name}>"
        )

    def versions(self, name: str) -> str:
        p = self.prefix
        return (
            f"<{p}:{name}>\n<ijw:BasisschemaXsdVersie>{XSD_VERSION}</ijw:BasisschemaXsdVersie>\n"
            f"<ijw:BerichtXsdVersie>{XSD_VERSION}</ijw:BerichtXsdVersie>\n</{p}:{name}>"
        )

    def document(self, *body: str) -> str:
        ns = f"http://www.istandaarden.nl/ijw/3_2/{self.prefix}/schema"
        root = f"{self.prefix}:Bericht"
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns:ijw="{BASE_NS}" '
            f'xmlns:{self.prefix}="{ns}">\n' + "\n".join(body) + f"\n</{root}>\n"
        )

    # Fragments shared by the message types.
    def client(self, a: Assignment, *, full_name: bool = False) -> list[str]:
        y = a.youth
        surname = y.surname.rsplit(" ", 1)
        name = [
            self.el(
                "ijw:Geslachtsnaam",
                self.tx("ijw:Achternaam", surname[-1]),
                self.tx("ijw:Voorvoegsel", surname[0]) if len(surname) > 1 else "",
            ),
            self.tx("ijw:Voornamen", y.first_name),
            self.tx("ijw:Voorletters", y.first_name[0]),
        ]
        if full_name:
            name.append(self.tx("ijw:NaamGebruik", 1))
        return [
            self.tx("Bsn", y.bsn),
            self.el("Geboortedatum", self.tx("ijw:Datum", y.birth)),
            self.tx("Geslacht", y.gender),
            self.el("Naam", *name),
        ]

    def product(self, a: Assignment, name: str = "Product") -> str:
        return self.el(
            name, self.tx("ijw:Categorie", a.product.category), self.tx("ijw:Code", a.product.code)
        )

    def omvang(self, a: Assignment) -> str:
        return self.el(
            "Omvang",
            self.tx("ijw:Volume", a.volume),
            self.tx("ijw:Eenheid", a.product.unit),
            self.tx("ijw:Frequentie", a.frequency),
        )

    def retour(self, *codes: str) -> str:
        return self.el("RetourCodes", *(self.tx("RetourCode", c) for c in codes))


def jw315(a: Assignment, ident: str, code: str) -> str:
    m = Message("JW315", ident, a.requested)
    r = a.referral
    referrer = m.el(
        "Verwijzer",
        m.tx("ijw:Type", r.type),
        m.tx("ijw:Naam", r.name) if r.name else "",
        m.tx("ijw:ZorgverlenerCode", r.agb) if r.agb else "",
    )
    request = m.el(
        "AangevraagdProduct",
        m.tx("ReferentieAanbieder", a.reference),
        m.product(a),
        m.tx("ToewijzingIngangsdatum", a.start),
        m.tx("ToewijzingEinddatum", a.end),
        m.omvang(a),
        m.tx("Budget", a.budget) if a.budget else "",
        referrer,
    )
    return m.document(
        m.header(a.provider.agb, code),
        m.el("Client", *m.client(a), m.el("AangevraagdeProducten", request)),
    )


def jw301(a: Assignment, ident: str, code: str, place: str) -> str:
    m = Message("JW301", ident, a.assigned)
    address = m.el(
        "Adres",
        m.el("ijw:Huis", m.tx("ijw:Huisnummer", a.youth.house_number)),
        m.tx("ijw:Postcode", "9999ZZ"),
        m.tx("ijw:Straatnaam", "Fictieve Straat"),
        m.tx("ijw:Plaatsnaam", place),
        m.tx("ijw:LandCode", "NL"),
    )
    product = m.el(
        "ToegewezenProduct",
        m.tx("ToewijzingNummer", a.number),
        m.tx("ReferentieAanbieder", a.reference),
        m.product(a),
        m.tx("Toewijzingsdatum", a.assigned),
        m.tx("Toewijzingstijd", a.assigned_time),
        m.tx("Ingangsdatum", a.start),
        m.tx("Einddatum", a.end),
        m.omvang(a),
        m.tx("Budget", a.budget) if a.budget else "",
    )
    return m.document(
        m.header(code, a.provider.agb),
        m.el(
            "Client",
            *m.client(a, full_name=True),
            m.el("Contactgegevens", m.el("Contact", m.tx("Soort", "01"), address)),
            m.el("ToegewezenProducten", product),
        ),
    )


def jw305(a: Assignment, p: Period, ident: str, code: str) -> str:
    m = Message("JW305", ident, p.start_sent)
    start = m.el(
        "StartProduct",
        m.tx("ToewijzingNummer", a.number),
        m.product(a),
        m.tx("ToewijzingIngangsdatum", a.start),
        m.tx("Begindatum", p.begin),
        m.tx("StatusAanlevering", 1),
    )
    return m.document(
        m.header(a.provider.agb, code), m.el("Client", *m.client(a), m.el("StartProducten", start))
    )


def jw307(a: Assignment, p: Period, ident: str, code: str) -> str:
    m = Message("JW307", ident, p.stop_sent)
    stop = m.el(
        "StopProduct",
        m.tx("ToewijzingNummer", a.number),
        m.product(a),
        m.tx("ToewijzingIngangsdatum", a.start),
        m.tx("Begindatum", p.begin),
        m.tx("RedenBeeindiging", p.reason),
        m.tx("Einddatum", p.end),
        m.tx("StatusAanlevering", 1),
    )
    return m.document(
        m.header(a.provider.agb, code), m.el("Client", *m.client(a), m.el("StopProducten", stop))
    )


def _total(m: Message, name: str, lines: list[Line]) -> str:
    total = sum(line.signed for line in lines)
    return m.el(
        name,
        m.tx("ijw:TotaalBedrag", abs(total)),
        m.tx("ijw:DebetCredit", "C" if total < 0 else "D"),
    )


def _prestatie(m: Message, line: Line, *extra: str) -> str:
    """One Prestatie; written as one template, as claims are most of the volume. Every
    value is a code, number or date: nothing to escape."""
    a, p = line.assignment, m.prefix
    previous = (
        f"<ijw:VorigReferentieNummer>{line.previous}</ijw:VorigReferentieNummer>\n"
        if line.previous
        else ""
    )
    tail = "".join(f"\n{x}" for x in extra if x)
    return (
        f"<{p}:Prestatie>\n<{p}:ProductReferentie>\n"
        f"<ijw:ReferentieNummer>{line.reference}</ijw:ReferentieNummer>\n{previous}"
        f"</{p}:ProductReferentie>\n"
        f"<{p}:ToewijzingNummer>{a.number}</{p}:ToewijzingNummer>\n"
        f"<{p}:ProductCategorie>{a.product.category}</{p}:ProductCategorie>\n"
        f"<{p}:ProductCode>{a.product.code}</{p}:ProductCode>\n"
        f"<{p}:ProductPeriode>\n<ijw:Begindatum>{line.begin}</ijw:Begindatum>\n"
        f"<ijw:Einddatum>{line.end}</ijw:Einddatum>\n</{p}:ProductPeriode>\n"
        f"<{p}:GeleverdVolume>{line.volume}</{p}:GeleverdVolume>\n"
        f"<{p}:Eenheid>{a.product.unit}</{p}:Eenheid>\n"
        f"<{p}:ProductTarief>{a.product.rate}</{p}:ProductTarief>\n"
        f"<{p}:IngediendBedrag>\n<ijw:Bedrag>{line.amount}</ijw:Bedrag>\n"
        f"<ijw:DebetCredit>{'C' if line.credit else 'D'}</ijw:DebetCredit>\n"
        f"</{p}:IngediendBedrag>{tail}\n</{p}:Prestatie>"
    )


def _by_client(lines: list[Line]) -> Iterator[tuple[str, list[Line]]]:
    for bsn, group in groupby(lines, key=lambda line: line.assignment.youth.bsn):
        yield bsn, list(group)


def jw323(c: Claim, ident: str, code: str) -> str:
    m = Message("JW323", ident, c.sent)
    clients = [
        m.el("Client", m.tx("Bsn", bsn), m.el("Prestaties", *(_prestatie(m, x) for x in xs)))
        for bsn, xs in _by_client(c.lines)
    ]
    return m.document(
        m.header(c.provider.agb, code),
        m.el(
            "Declaratie",
            m.tx("DeclaratieNummer", c.number),
            m.el(
                "DeclaratiePeriode", m.tx("ijw:Begindatum", c.begin), m.tx("ijw:Einddatum", c.end)
            ),
            m.tx("DeclaratieDagtekening", c.sent),
            _total(m, "TotaalIngediendBedrag", c.lines),
            m.el("Clienten", *clients),
        ),
    )


def jw325(c: Claim, ident: str, claim_ident: str, code: str) -> str:
    m = Message("JW325", ident, c.answered)
    rejected = [line for line in c.lines if line.retour]
    clients = [
        m.el(
            "Client",
            m.tx("Bsn", bsn),
            m.el("Prestaties", *(_prestatie(m, x, m.retour(*x.retour)) for x in xs)),
            m.retour("0200"),
        )
        for bsn, xs in _by_client(rejected)
    ]
    granted = [line for line in c.lines if not line.retour]
    header = m.header(
        code,
        c.provider.agb,
        m.identification("DeclaratieIdentificatie", claim_ident, c.sent),
        m.versions("XsdVersieDeclaratie"),
        m.retour("0200"),
    )
    return m.document(
        header,
        m.el(
            "DeclaratieAntwoord",
            m.tx("DeclaratieNummer", c.number),
            _total(m, "TotaalIngediendBedrag", c.lines),
            _total(m, "TotaalToegekendBedrag", granted),
            m.el("Clienten", *clients) if clients else "",
            m.retour("0200" if rejected else "8001"),
        ),
    )


def render(
    world: MunicipalityWorld, idents: Iterator[str], *, access: bool, as_of: date
) -> Iterator[tuple[str, str, int]]:
    """Yield (file name, XML text, records) for the messages of one municipality: with
    `access` the assignment messages (JW315, JW301, JW305, JW307), and the claims and their
    answers of the providers that send JW323. File names start with the dagtekening, so
    sorting them gives the order of events."""
    code, place = world.municipality.code, world.municipality.name

    def name(kind: str, day: date, ident: str) -> str:
        return f"{day.isoformat()}_{kind}_{ident}.xml"

    if access:
        for a in world.assignments:
            if a.requested <= as_of:
                ident = next(idents)
                yield name("JW315", a.requested, ident), jw315(a, ident, code), 1
            ident = next(idents)
            yield name("JW301", a.assigned, ident), jw301(a, ident, code, place), 1
            for p in a.periods:
                if p.start_sent > as_of:
                    continue
                ident = next(idents)
                yield name("JW305", p.start_sent, ident), jw305(a, p, ident, code), 1
                if p.stop_sent <= as_of:
                    ident = next(idents)
                    yield name("JW307", p.stop_sent, ident), jw307(a, p, ident, code), 1
    for c in world.claims:
        if c.provider.claims_csv or c.sent > as_of:
            continue
        claim_ident = next(idents)
        yield name("JW323", c.sent, claim_ident), jw323(c, claim_ident, code), len(c.lines)
        if c.answered <= as_of:
            ident = next(idents)
            rejected = sum(1 for line in c.lines if line.retour)
            yield (
                name("JW325", c.answered, ident),
                jw325(c, ident, claim_ident, code),
                max(1, rejected),
            )
