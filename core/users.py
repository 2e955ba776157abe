"""Staff users: creation with a keypair, password hash and password-wrapped private key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.county import Role, now
from core.errors import Conflict
from core.models import User, new_id
from crypto.argon import Argon2Params
from crypto.keys import KeyPair
from crypto.passwords import hash_password
from crypto.user_keys import wrap_user_key_with_password


async def create_user(
    session: AsyncSession,
    username: str,
    role: Role,
    *,
    email: str | None,
    password: str,
    password_params: Argon2Params,
) -> tuple[User, KeyPair]:
    """Create a user who can log in with ``password``; their keypair is generated now."""
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名“{username}”已存在。")
    user_id = new_id()
    keypair = KeyPair.generate()
    user = User(
        id=user_id,
        username=username,
        role=role.value,
        email=email,
        password_hash=hash_password(password, password_params),
        public_key=keypair.public.raw,
        private_key_by_password=wrap_user_key_with_password(
            keypair, user_id, password, password_params
        ),
        failed_logins=0,
        created_at=now(),
    )
    session.add(user)
    await session.flush()
    return user, keypair
