"""`xuncha keys …`: key file fingerprint, body-key rotation, the one-time escrow export.

The escrow private key is written by `xuncha init` to ``escrow-private-key.txt`` in the data
directory (mode 0600). ``keys escrow-export`` prints it with the custody checklist, records the
export (``meta`` row and audit event), then overwrites and deletes the file: from then on the
server holds only the escrow *public* key (docs/key-ceremony.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select

from core.audit import append_event
from core.body_keys import key_file_fingerprint, read_escrow_key, rotate_body_key
from core.county import now
from core.errors import Conflict
from core.models import Meta
from core.runtime import Runtime

EXPORT_MARK = "escrow_exported"

CHECKLIST = """\
托管私钥离线保管清单（docs/key-ceremony.md）
[ ] 两名巡察办工作人员在场，核对本机密钥文件指纹：{fingerprint}
[ ] 核对下方 Key-Id 与托管公钥编号一致：{key_id}
[ ] 在不联网的打印机上打印两份；不拍照、不扫描、不存入任何联网设备
[ ] 两份分别装入密封袋，签名骑缝，注明日期，存入两处不同的保险柜
[ ] 登记保管人、存放地点和启封条件（恢复用户、补授机构密钥）
[ ] 确认服务器上的 escrow-private-key.txt 已被本命令删除
"""


async def fingerprint(runtime: Runtime, _args: argparse.Namespace) -> int:
    print(f"密钥文件：{runtime.settings.key_file}")
    print(f"指纹：{key_file_fingerprint(runtime.secrets)}")
    print(f"托管公钥编号：{runtime.secrets.escrow_public_key.key_id}")
    return 0


async def rotate(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.db.transaction() as session:
        rotation = await rotate_body_key(
            session, args.body, escrow=runtime.secrets.escrow_public_key, actor_id=None
        )
    print(f"已为“{rotation.body_name}”生成新密钥 {rotation.new_key_id}；新案件使用新密钥。")
    print(f"旧密钥 {', '.join(rotation.retired_key_ids) or '无'} 已停用，旧案件仍可阅读。")
    print(f"新密钥已授权给：{'、'.join(rotation.granted_to) or '（无成员）'}，并已托管。")
    return 0


def custody_path(runtime: Runtime) -> Path:
    from admin.cli import ESCROW_CUSTODY_FILE

    return runtime.settings.data_dir / ESCROW_CUSTODY_FILE


def _shred(path: Path) -> None:
    """Overwrite before unlinking, so the armour is not left in the file's old blocks (best
    effort: journaling and copy-on-write file systems may keep copies; see the ceremony doc)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()


async def escrow_export(runtime: Runtime, _args: argparse.Namespace) -> int:
    path = custody_path(runtime)
    async with runtime.db.reading() as session:
        exported = await session.scalar(select(Meta.value).where(Meta.key == EXPORT_MARK))
    if exported is not None:
        raise Conflict(f"托管私钥已于 {exported} 导出，服务器上不再保存。")
    try:
        armour = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Conflict(f"找不到 {path}：托管私钥只在首次 init 时写出一次。") from None
    escrow = read_escrow_key(armour, runtime.secrets)
    print(
        CHECKLIST.format(
            fingerprint=key_file_fingerprint(runtime.secrets),
            key_id=runtime.secrets.escrow_public_key.key_id,
        )
    )
    print(armour, end="")
    # Only once the armour has left the process is the export recorded and the file removed;
    # a broken pipe before this point leaves everything as it was, to be tried again.
    sys.stdout.flush()
    async with runtime.db.transaction() as session:
        session.add(Meta(key=EXPORT_MARK, value=now().date().isoformat()))
        await append_event(
            session, "keys.escrow_exported", detail={"key_id": escrow.key_id, "via": "cli"}
        )
    _shred(path)
    print(f"\n已删除 {path}。")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Runtime, argparse.Namespace], Awaitable[int]]] = {
    ("keys", "fingerprint"): fingerprint,
    ("keys", "rotate"): rotate,
    ("keys", "escrow-export"): escrow_export,
}
