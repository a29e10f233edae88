"""The systems the region's data comes from, each with its own spelling: four access systems
that export CSV, three with a JSON API, two billing exports of small providers, two GI case
systems, and the region's reference files. All names are fictitious; the column names are
the kind a Dutch municipal system would use.

`FORMATS` assigns every municipality one access format, round-robin in the order of the
region (for IJsselland: four iJw, four CSV, three JSON API).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.synth.tabular import Dialect, Layout

IJW, CSV, JSON_API = "ijw", "csv", "json-api"
FORMATS = (IJW, CSV, IJW, CSV, JSON_API, JSON_API, IJW, CSV, JSON_API, CSV, IJW)

GENDER_MV = {"1": "M", "2": "V", "0": "O"}
GENDER_WORDS = {"1": "man", "2": "vrouw", "0": "onbekend"}


@dataclass(frozen=True, slots=True)
class System:
    """An access system: how it writes referrals, assignments and care periods."""

    name: str
    dialect: Dialect
    layouts: dict[str, Layout]  # kind -> layout
    files: dict[str, str]  # kind -> file name (with {year}) or API resource


def _layouts(**columns: tuple[tuple[str, str], ...]) -> dict[str, Layout]:
    return {kind: Layout(kind, cols) for kind, cols in columns.items()}


# --- access systems exporting CSV -------------------------------------------------------------

_A_CLIENT = (
    ("municipality", "Gemeente"),
    ("bsn", "BSN cliënt"),
    ("birth_date", "Geboortedatum"),
    ("gender", "Geslacht"),
    ("provider_agb", "AGB-code aanbieder"),
)
_A_EXTENT = (
    ("volume", "Omvang"),
    ("unit", "Eenheid"),
    ("frequency", "Frequentie"),
    ("budget", "Budget (€)"),
)
TOEGANG_PLUS = System(
    "Toegang+ (leverancier A)",
    Dialect(
        delimiter=";",
        encoding="windows-1252",
        date_format="%d-%m-%Y",
        decimal=",",
        money="euros",
        codes={
            "gender": GENDER_MV,
            "referrer_type": {
                "01": "Gemeente",
                "02": "Huisarts",
                "03": "Jeugdarts",
                "04": "Gecertificeerde instelling",
                "05": "Medisch specialist",
                "06": "Geen verwijzer",
                "08": "Rechter",
            },
        },
    ),
    _layouts(
        referral=(
            *_A_CLIENT,
            ("provider_reference", "Referentie aanbieder"),
            ("referrer_type", "Soort verwijzer"),
            ("referrer_code", "AGB-code verwijzer"),
            ("referrer_name", "Naam verwijzer"),
            ("product_category", "Productcategorie"),
            ("product_code", "Productcode"),
            ("requested_start", "Gewenste ingangsdatum"),
            ("requested_end", "Gewenste einddatum"),
            *_A_EXTENT,
            ("dated", "Mutatiedatum"),
        ),
        assignment=(
            *_A_CLIENT,
            ("assignment_number", "Beschikkingsnummer"),
            ("provider_reference", "Referentie aanbieder"),
            ("product_category", "Productcategorie"),
            ("product_code", "Productcode"),
            ("assigned_on", "Beschikkingsdatum"),
            ("start", "Ingangsdatum"),
            ("end", "Einddatum"),
            *_A_EXTENT,
            ("dated", "Mutatiedatum"),
        ),
        care_period=(
            *_A_CLIENT,
            ("assignment_number", "Beschikkingsnummer"),
            ("product_code", "Productcode"),
            ("start", "Startdatum zorg"),
            ("end", "Einddatum zorg"),
            ("end_reason", "Reden beëindiging"),
            ("dated", "Mutatiedatum"),
        ),
    ),
    {
        "referral": "verwijzingen_{year}.csv",
        "assignment": "beschikkingen_{year}.csv",
        "care_period": "zorgperiodes_{year}.csv",
    },
)

_B_CLIENT = (
    ("bsn", "bsn"),
    ("birth_date", "geboortedatum"),
    ("gender", "geslacht"),
    ("provider_agb", "agb_code"),
)
_B_EXTENT = (
    ("volume", "volume"),
    ("unit", "eenheid"),
    ("frequency", "frequentie"),
    ("budget", "budget_cent"),
)
JEUGDDOSSIER = System(
    "JeugdDossier (leverancier B)",
    Dialect(),
    _layouts(
        referral=(
            *_B_CLIENT,
            ("provider_reference", "referentie"),
            ("referrer_type", "verwijzer_type"),
            ("referrer_code", "verwijzer_agb"),
            ("referrer_name", "verwijzer_naam"),
            ("product_category", "productcategorie"),
            ("product_code", "productcode"),
            ("requested_start", "begindatum"),
            ("requested_end", "einddatum"),
            *_B_EXTENT,
        ),
        assignment=(
            *_B_CLIENT,
            ("assignment_number", "toewijzingnummer"),
            ("provider_reference", "referentie"),
            ("product_category", "productcategorie"),
            ("product_code", "productcode"),
            ("assigned_on", "toewijzingsdatum"),
            ("start", "ingangsdatum"),
            ("end", "einddatum"),
            *_B_EXTENT,
        ),
        care_period=(
            *_B_CLIENT,
            ("assignment_number", "toewijzingnummer"),
            ("product_category", "productcategorie"),
            ("product_code", "productcode"),
            ("start", "begindatum"),
            ("end", "einddatum"),
            ("end_reason", "reden_einde"),
        ),
    ),
    {
        "referral": "aanmeldingen-{year}.csv",
        "assignment": "toewijzingen-{year}.csv",
        "care_period": "levering-{year}.csv",
    },
)

_C_CLIENT = (
    ("bsn", "Burgerservicenummer"),
    ("birth_date", "Geb.datum"),
    ("gender", "Geslacht"),
    ("municipality", "Gemeentecode"),
    ("provider_agb", "AGB zorgaanbieder"),
)
SOCIAAL_DOMEIN_SUITE = System(
    "Sociaal Domein Suite (leverancier C)",
    Dialect(
        delimiter="\t",
        encoding="utf-8-sig",
        date_format="%d-%m-%Y",
        short_dates=True,
        decimal=",",
        money="euros",
        cbs_codes=True,
        codes={"gender": GENDER_MV},
    ),
    _layouts(
        referral=(
            *_C_CLIENT,
            ("provider_reference", "Ref. aanbieder"),
            ("referrer_type", "Verwijzer (code)"),
            ("referrer_name", "Verwijzer"),
            ("referrer_code", "Verwijzer AGB"),
            ("product_code", "Product"),
            ("requested_start", "Van"),
            ("requested_end", "Tot"),
            ("volume", "Omvang"),
            ("unit", "Eenheid"),
            ("frequency", "Frequentie"),
            ("budget", "Budget"),
            ("dated", "Laatst gewijzigd"),
        ),
        assignment=(
            *_C_CLIENT,
            ("assignment_number", "Toewijzing nr."),
            ("provider_reference", "Ref. aanbieder"),
            ("product_code", "Product"),
            ("assigned_on", "Datum besluit"),
            ("start", "Van"),
            ("end", "Tot"),
            ("volume", "Omvang"),
            ("unit", "Eenheid"),
            ("frequency", "Frequentie"),
            ("budget", "Budget"),
            ("dated", "Laatst gewijzigd"),
        ),
        care_period=(
            *_C_CLIENT,
            ("assignment_number", "Toewijzing nr."),
            ("product_code", "Product"),
            ("start", "Start levering"),
            ("end", "Einde levering"),
            ("end_reason", "Reden einde"),
            ("dated", "Laatst gewijzigd"),
        ),
    ),
    {
        "referral": "Verwijzingen {year}.csv",
        "assignment": "Toewijzingen {year}.csv",
        "care_period": "Leveringen {year}.csv",
    },
)

_D_CLIENT = (
    ("municipality", "Gemeente"),
    ("bsn", "BSN"),
    ("birth_date", "Geboortedatum"),
    ("gender", "Geslacht"),
    ("provider_agb", "AanbiederAGB"),
)
_D_EXTENT = (
    ("volume", "Omvang"),
    ("unit", "Eenheid"),
    ("frequency", "Frequentie"),
    ("budget", "BudgetEuro"),
)
WIJKTEAM_ONLINE = System(
    "WijkTeam Online (leverancier D)",
    Dialect(delimiter="|", encoding="windows-1252", money="euros", codes={"gender": GENDER_WORDS}),
    _layouts(
        referral=(
            *_D_CLIENT,
            ("provider_reference", "AanbiederReferentie"),
            ("referrer_type", "VerwijzerType"),
            ("referrer_code", "VerwijzerAGB"),
            ("referrer_name", "VerwijzerNaam"),
            ("product_category", "ProductCategorie"),
            ("product_code", "ProductCode"),
            ("requested_start", "GewensteStart"),
            ("requested_end", "GewensteEind"),
            *_D_EXTENT,
        ),
        assignment=(
            *_D_CLIENT,
            ("assignment_number", "ToewijzingId"),
            ("provider_reference", "AanbiederReferentie"),
            ("product_category", "ProductCategorie"),
            ("product_code", "ProductCode"),
            ("assigned_on", "Besluitdatum"),
            ("start", "Startdatum"),
            ("end", "Einddatum"),
            *_D_EXTENT,
        ),
        care_period=(
            *_D_CLIENT,
            ("assignment_number", "ToewijzingId"),
            ("product_category", "ProductCategorie"),
            ("product_code", "ProductCode"),
            ("start", "LeveringStart"),
            ("end", "LeveringEind"),
            ("end_reason", "RedenEinde"),
        ),
    ),
    {
        "referral": "VERWIJZING_{year}.csv",
        "assignment": "TOEWIJZING_{year}.csv",
        "care_period": "LEVERING_{year}.csv",
    },
)
CSV_SYSTEMS = (TOEGANG_PLUS, JEUGDDOSSIER, SOCIAAL_DOMEIN_SUITE, WIJKTEAM_ONLINE)


# --- access systems with a JSON API ----------------------------------------------------------

_X_CLIENT = (
    ("bsn", "client.bsn"),
    ("birth_date", "client.geboortedatum"),
    ("gender", "client.geslacht"),
    ("provider_agb", "aanbieder.agb"),
)
_X_EXTENT = (
    ("volume", "omvang.volume"),
    ("unit", "omvang.eenheid"),
    ("frequency", "omvang.frequentie"),
    ("budget", "budgetInCenten"),
)
JEUGDPLATFORM = System(
    "Jeugdplatform API",
    Dialect(),
    _layouts(
        referral=(
            *_X_CLIENT,
            ("provider_reference", "aanbieder.referentie"),
            ("referrer_type", "verwijzer.type"),
            ("referrer_code", "verwijzer.agb"),
            ("referrer_name", "verwijzer.naam"),
            ("product_category", "product.categorie"),
            ("product_code", "product.code"),
            ("requested_start", "periode.van"),
            ("requested_end", "periode.tot"),
            *_X_EXTENT,
        ),
        assignment=(
            *_X_CLIENT,
            ("provider_reference", "aanbieder.referentie"),
            ("assignment_number", "toewijzingnummer"),
            ("assigned_on", "toewijzingsdatum"),
            ("product_category", "product.categorie"),
            ("product_code", "product.code"),
            ("start", "periode.van"),
            ("end", "periode.tot"),
            *_X_EXTENT,
        ),
        care_period=(
            *_X_CLIENT,
            ("assignment_number", "toewijzingnummer"),
            ("product_category", "product.categorie"),
            ("product_code", "product.code"),
            ("start", "levering.begindatum"),
            ("end", "levering.einddatum"),
            ("end_reason", "levering.redenEinde"),
        ),
    ),
    {"referral": "verwijzingen", "assignment": "toewijzingen", "care_period": "zorgperiodes"},
)

_Y_CLIENT = (
    ("bsn", "jeugdige.burgerservicenummer"),
    ("birth_date", "jeugdige.geboortedatum"),
    ("gender", "jeugdige.geslacht"),
    ("municipality", "gemeente.code"),
    ("provider_agb", "zorgaanbieder.agbCode"),
)
_Y_EXTENT = (
    ("volume", "omvang.volume"),
    ("unit", "omvang.eenheid"),
    ("frequency", "omvang.frequentie"),
    ("budget", "budget.bedrag"),
)
SOCIAAL_DOMEIN_API = System(
    "Sociaal Domein API",
    Dialect(money="euros", cbs_codes=True, codes={"gender": GENDER_MV}),
    _layouts(
        referral=(
            *_Y_CLIENT,
            ("provider_reference", "zorgaanbieder.referentie"),
            ("referrer_type", "verwijzing.soort"),
            ("referrer_code", "verwijzing.verwijzerAgb"),
            ("referrer_name", "verwijzing.verwijzerNaam"),
            ("product_category", "product.categorie"),
            ("product_code", "product.code"),
            ("requested_start", "aanvraag.ingangsdatum"),
            ("requested_end", "aanvraag.einddatum"),
            *_Y_EXTENT,
        ),
        assignment=(
            *_Y_CLIENT,
            ("provider_reference", "zorgaanbieder.referentie"),
            ("assignment_number", "beschikking.nummer"),
            ("assigned_on", "beschikking.datum"),
            ("start", "beschikking.ingangsdatum"),
            ("end", "beschikking.einddatum"),
            ("product_category", "product.categorie"),
            ("product_code", "product.code"),
            *_Y_EXTENT,
        ),
        care_period=(
            *_Y_CLIENT,
            ("assignment_number", "beschikking.nummer"),
            ("product_category", "product.categorie"),
            ("product_code", "product.code"),
            ("start", "zorgperiode.start"),
            ("end", "zorgperiode.eind"),
            ("end_reason", "zorgperiode.redenEinde"),
        ),
    ),
    {"referral": "verwijzingen", "assignment": "beschikkingen", "care_period": "zorgperiodes"},
)

_Z_CLIENT = (
    ("bsn", "dossier.client.bsn"),
    ("birth_date", "dossier.client.birthDate"),
    ("gender", "dossier.client.sex"),
    ("provider_agb", "provider.agb"),
)
_Z_EXTENT = (
    ("volume", "extent.volume"),
    ("unit", "extent.unit"),
    ("frequency", "extent.frequency"),
    ("budget", "budget.cents"),
)
TOEGANG_CLOUD = System(
    "Toegang Cloud API",
    Dialect(date_format="%d-%m-%Y", codes={"gender": GENDER_WORDS}),
    _layouts(
        referral=(
            *_Z_CLIENT,
            ("provider_reference", "provider.reference"),
            ("referrer_type", "referrer.kind"),
            ("referrer_code", "referrer.agb"),
            ("referrer_name", "referrer.name"),
            ("product_category", "product.category"),
            ("product_code", "product.code"),
            ("requested_start", "requested.from"),
            ("requested_end", "requested.until"),
            *_Z_EXTENT,
        ),
        assignment=(
            *_Z_CLIENT,
            ("provider_reference", "provider.reference"),
            ("assignment_number", "assignment.number"),
            ("assigned_on", "assignment.decidedOn"),
            ("start", "assignment.from"),
            ("end", "assignment.until"),
            ("product_category", "product.category"),
            ("product_code", "product.code"),
            *_Z_EXTENT,
        ),
        care_period=(
            *_Z_CLIENT,
            ("assignment_number", "assignment.number"),
            ("product_category", "product.category"),
            ("product_code", "product.code"),
            ("start", "delivery.from"),
            ("end", "delivery.until"),
            ("end_reason", "delivery.endReason"),
        ),
    ),
    {"referral": "referrals", "assignment": "assignments", "care_period": "deliveries"},
)
API_SYSTEMS = (JEUGDPLATFORM, SOCIAAL_DOMEIN_API, TOEGANG_CLOUD)


# --- provider claims as CSV -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Export:
    """A file export of one kind of record (claims, GI measures, reference data)."""

    dialect: Dialect
    layout: Layout
    file: str  # name pattern: {year}, {month}


CLAIMS_EXPORTS = (
    Export(
        Dialect(
            delimiter=";",
            encoding="windows-1252",
            date_format="%d-%m-%Y",
            decimal=",",
            money="euros",
            codes={
                "status": {
                    "SUBMITTED": "Ingediend",
                    "GRANTED": "Toegekend",
                    "REJECTED": "Afgewezen",
                }
            },
        ),
        Layout(
            "claim",
            (
                ("municipality", "Gemeente"),
                ("bsn", "BSN"),
                ("birth_date", "Geboortedatum"),
                ("provider_agb", "AGB-code"),
                ("claim_number", "Factuurnummer"),
                ("claim_date", "Factuurdatum"),
                ("reference", "Regelnummer"),
                ("previous_reference", "Vorig regelnummer"),
                ("assignment_number", "Toewijzingnummer"),
                ("product_category", "Productcategorie"),
                ("product_code", "Productcode"),
                ("period_start", "Periode van"),
                ("period_end", "Periode tot"),
                ("volume", "Aantal"),
                ("unit", "Eenheid"),
                ("rate", "Tarief"),
                ("amount", "Bedrag"),
                ("debit_credit", "Debet/Credit"),
                ("status", "Status"),
                ("retourcodes", "Retourcodes"),
            ),
        ),
        "declaraties_{year}-{month}.csv",
    ),
    Export(
        Dialect(cbs_codes=True),
        Layout(
            "claim",
            (
                ("municipality", "gemeente"),
                ("bsn", "bsn"),
                ("provider_agb", "agb"),
                ("claim_number", "declaratienummer"),
                ("claim_date", "declaratiedatum"),
                ("reference", "regel"),
                ("previous_reference", "corrigeert_regel"),
                ("assignment_number", "toewijzing"),
                ("product_code", "product"),
                ("period_start", "van"),
                ("period_end", "tot"),
                ("volume", "aantal"),
                ("unit", "eenheid"),
                ("rate", "tarief_cent"),
                ("amount", "bedrag_cent"),
                ("status", "status"),
                ("retourcodes", "retourcodes"),
            ),
        ),
        "claims_{year}.csv",
    ),
)


# --- GI measures ------------------------------------------------------------------------------

GI_EXPORTS = (
    Export(
        Dialect(
            delimiter=";",
            encoding="utf-8-sig",
            date_format="%d-%m-%Y",
            cbs_codes=True,
            codes={
                "gender": GENDER_MV,
                "measure_type": {"VOOGDIJ": "Voogdij", "JEUGDRECLASSERING": "Jeugdreclassering"},
            },
        ),
        Layout(
            "measure",
            (
                ("municipality", "Gemeente"),
                ("bsn", "BSN"),
                ("birth_date", "Geboortedatum"),
                ("gender", "Geslacht"),
                ("provider_agb", "AGB GI"),
                ("measure_id", "Maatregelnummer"),
                ("measure_type", "Soort maatregel"),
                ("start", "Startdatum"),
                ("end", "Einddatum"),
                ("end_reason", "Reden einde"),
            ),
        ),
        "maatregelen_{year}.csv",
    ),
    Export(
        Dialect(),
        Layout(
            "measure",
            (
                ("municipality", "gemeentecode"),
                ("bsn", "bsn"),
                ("birth_date", "geboortedatum"),
                ("gender", "geslacht"),
                ("provider_agb", "agb"),
                ("measure_id", "maatregel_id"),
                ("measure_type", "maatregel"),
                ("start", "begin"),
                ("end", "eind"),
                ("end_reason", "reden_eind"),
            ),
        ),
        "maatregelen_{year}.csv",
    ),
)


# --- reference data ---------------------------------------------------------------------------

LOT_WORDS = {
    "AMBULANT": "Ambulant",
    "RESIDENTIAL": "Verblijf",
    "CRISIS": "Crisis",
    "HSWV": "HSWV",
    "PROTECTION": "Jeugdbescherming",
    "PROBATION": "Jeugdreclassering",
}
REFERENCE_EXPORTS = {
    "provider": Export(
        Dialect(delimiter=";", date_format="%d-%m-%Y", codes={"lot": LOT_WORDS}),
        Layout(
            "provider",
            (
                ("provider_agb", "AGB-code"),
                ("name", "Naam"),
                ("lot", "Perceel"),
                ("start", "Ingangsdatum contract"),
                ("end", "Einddatum contract"),
            ),
        ),
        "aanbieders.csv",
    ),
    "budget": Export(
        Dialect(
            delimiter=";",
            decimal=",",
            money="euros",
            thousands=True,
            cbs_codes=True,
            codes={"lot": LOT_WORDS},
        ),
        Layout(
            "budget",
            (
                ("municipality", "Gemeente"),
                ("year", "Jaar"),
                ("lot", "Perceel"),
                ("amount", "Budget"),
            ),
        ),
        "budgetten.csv",
    ),
    "population": Export(
        Dialect(cbs_codes=True),
        Layout(
            "population",
            (("municipality", "gemeentecode"), ("year", "jaar"), ("youth_0_17", "jongeren_0_17")),
        ),
        "bevolking.csv",
    ),
    "signal": Export(
        Dialect(
            codes={
                "early_warning": {
                    "GREEN": "groen",
                    "YELLOW": "geel",
                    "ORANGE": "oranje",
                    "RED": "rood",
                },
                "escalation": {
                    "NONE": "geen",
                    "MONITORING": "monitoring",
                    "ESCALATED": "geëscaleerd",
                    "CONTINUITY_PLAN": "continuïteitsplan",
                },
            }
        ),
        Layout(
            "signal",
            (
                ("provider_agb", "agb"),
                ("dated", "peildatum"),
                ("early_warning", "vroegsignalering"),
                ("escalation", "escalatie"),
                ("waiting_list", "wachtlijst"),
                ("waiting_days", "gem_wachttijd_dagen"),
            ),
        ),
        "signalen_{year}.csv",
    ),
}
