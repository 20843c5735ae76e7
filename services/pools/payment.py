"""What a user pays and how (SOLUTIONS §7): the amount as text, the payment URI, and its QR code."""

from __future__ import annotations

import io
from typing import Any

import qrcode
import qrcode.image.svg

from services.common.grid_price import display_amount


def asset_code(asset: str) -> str:
    """``"TFT:GBOV…"`` → ``"TFT"``."""
    return asset.split(":", 1)[0]


def payment_uri(reservation: dict[str, Any]) -> str:
    """``<CODE>:<escrow address>?amount=<amount>&message=p-<reservation id>&sender=me`` (SOLUTIONS §7.2)."""
    return (
        f"{asset_code(reservation['escrow_asset'])}:{reservation['escrow_address']}"
        f"?amount={display_amount(reservation['escrow_amount'])}"
        f"&message=p-{reservation['grid_reservation_id']}&sender=me"
    )


def qr_png(text: str) -> bytes:
    image = qrcode.make(text, box_size=4, border=4)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def qr_svg(text: str) -> bytes:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
