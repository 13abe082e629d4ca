"""Factur-X files: the issued document drawn as a PDF (fonts embedded, an sRGB output intent),
its EN 16931 CII XML embedded by the `factur-x` library, which writes the PDF/A-3 metadata
(XMP with the Factur-X extension schema) and checks the XML against the official XSD."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import facturx
import reportlab
from PIL import ImageCms
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from brique.domain.einvoice import IssuedDocument, cii_data

FONTS = Path(reportlab.__file__).parent / "fonts"  # Bitstream Vera, shipped with reportlab (embeddable)
LEVEL = "en16931"


def cii_xml(doc: IssuedDocument) -> bytes:
    """The document's CII XML, checked against the Factur-X XSD (raises if invalid)."""
    return facturx.generate_cii_xml(cii_data(doc), level=LEVEL, check_xsd=True, check_schematron=False)


def facturx_pdf(doc: IssuedDocument) -> bytes:
    xml = cii_xml(doc)
    meta = {"author": doc.issuer.name, "keywords": "Factur-X, invoice", "title": f"{doc.title} {doc.number}",
            "subject": f"{doc.title} {doc.number} of {doc.issuer.name} to {doc.customer.name}"}  # fmt: skip
    return facturx.generate_from_binary(_with_output_intent(_draw(doc)), xml, flavor="factur-x", level=LEVEL,
                                        check_xsd=True, pdf_metadata=meta, lang="en-GB")  # fmt: skip


def _fonts() -> None:
    if "Vera" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("Vera", str(FONTS / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont("VeraBd", str(FONTS / "VeraBd.ttf")))


def _eur(x: Decimal) -> str:
    return f"EUR {x:,.2f}"


def _draw(doc: IssuedDocument) -> bytes:
    """One or more A4 pages: parties, dates, lines, totals, legal mentions."""
    _fonts()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True)
    c.setTitle(f"{doc.title} {doc.number}")
    height = A4[1]
    y = height - 60
    c.setFont("VeraBd", 16)
    c.drawString(50, y, f"{doc.title} {doc.number}")
    y -= 24
    c.setFont("Vera", 9)
    facts = [f"Issue date: {doc.issue_date.isoformat()}   Due date: {doc.due_date.isoformat()}   Period: {doc.month}"]
    if doc.corrects:
        facts.append(f"Corrects invoice {doc.corrects} of {doc.corrects_date}")
    for side, p in (("Issuer", doc.issuer), ("Customer", doc.customer)):
        ids = "  ".join(x for x in (p.vat_id and f"VAT {p.vat_id}", p.legal_id and f"ID {p.legal_id}") if x)
        where = ", ".join(x for x in (p.address, f"{p.postcode} {p.city}".strip(), p.country) if x)
        facts.append(f"{side}: {p.name}, {where}   {ids}".rstrip())
    for line in facts:
        c.drawString(50, y, line)
        y -= 13
    y -= 10
    c.setFont("VeraBd", 8)
    c.drawString(50, y, "Description")
    for x, text in ((385, "Qty"), (455, "Unit price"), (545, "Amount")):
        c.drawRightString(x, y, text)
    y -= 12
    c.setFont("Vera", 8)
    for ln in doc.lines:
        if y < 120:
            c.showPage()
            c.setFont("Vera", 8)
            y = height - 60
        text = ln.description if len(ln.description) <= 50 else ln.description[:49] + "…"
        c.drawString(50, y, text)
        c.drawRightString(385, y, f"{ln.quantity:,.4f} {ln.unit}")
        c.drawRightString(455, y, f"{ln.unit_price:,.4f}")
        c.drawRightString(545, y, _eur(ln.amount))
        y -= 12
    y -= 8
    vat_label = f"VAT ({doc.vat_category}, {doc.vat_percent}%)"
    for label, amount, bold in (("Subtotal", doc.subtotal, False), (vat_label, doc.vat_amount, False),
                                ("Total", doc.total, True)):  # fmt: skip
        c.setFont("VeraBd" if bold else "Vera", 9)
        c.drawString(360, y, label)
        c.drawRightString(545, y, _eur(amount))
        y -= 13
    y -= 10
    c.setFont("Vera", 7)
    for note in doc.notes:
        c.drawString(50, y, note[:130])
        y -= 10
    c.showPage()
    c.save()
    return buf.getvalue()


def _with_output_intent(pdf: bytes) -> bytes:
    """Add the sRGB output intent PDF/A asks for when device colours are used."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    icc = DecodedStreamObject()
    icc.set_data(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject({
        NameObject("/Type"): NameObject("/OutputIntent"), NameObject("/S"): NameObject("/GTS_PDFA1"),
        NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB"),
        NameObject("/DestOutputProfile"): writer._add_object(icc),
    })  # fmt: skip
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
