"""The shapes of the auth API: the query parameters the views read and the answers they give."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.common.openapi import Empty, Media, Redirect

PAGE = Media("text/html", "the sign-in page, or a page saying why the sign-in failed")
TO_PROVIDER = Redirect("to 3Bot Connect (provider=3bot), or back to `next` after a sign-in")
VERIFIED = Empty("signed in: X-Marketplace-User, -Email and -Assertion name the caller (Caddy forward_auth)")


class LoginQuery(BaseModel):
    """Where to go after signing in, and whether to go to 3Bot Connect now."""

    next: str | None = Field(None, description="a path on this site (anything else means /)")
    provider: Literal["3bot"] | None = Field(None, description="3bot: start the sign-in now")


class CallbackQuery(BaseModel):
    """What 3Bot Connect sends back."""

    signedAttempt: str | None = Field(None, description="the signed login attempt (JSON)")
    error: str | None = Field(None, description="set when the user cancelled")


class SignedOut(BaseModel):
    """The session is over."""

    message: Literal["signed out"]


class Me(BaseModel):
    """The signed-in user."""

    username: str
    email: str


class Terms(BaseModel):
    """The current terms and whether the caller accepted them."""

    version: str
    grid_network: str
    accepted: bool
