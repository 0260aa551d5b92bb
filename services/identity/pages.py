"""The HTML pages of the login flow (server-rendered; no script needed)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template

from fastapi.responses import HTMLResponse

_PAGE = Template((Path(__file__).parent / "templates" / "page.html").read_text(encoding="utf-8"))


def _hidden(**fields: str) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )


def page(title: str, body: str, *, error: str = "", status: int = 200) -> HTMLResponse:
    html = _PAGE.substitute(
        title=escape(title),
        error=f'<p class="error" role="alert">{escape(error)}</p>' if error else "",
        body=body,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def login_page(
    issuer: str, resume: str, csrf: str, *, error: str = "", status: int = 200, username: str = ""
) -> HTMLResponse:
    body = f"""
<form method="post" action="{escape(issuer)}/login">
{_hidden(resume=resume, csrf=csrf)}
<label for="username">身份证号 / 手机号 / 账号</label>
<input type="text" id="username" name="username" autocomplete="username"
 value="{escape(username)}" required>
<label for="password">密码</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">登录</button>
</form>
<form method="post" action="{escape(issuer)}/login/sms/send">
{_hidden(resume=resume, csrf=csrf)}
<label for="phone">短信验证码登录：手机号</label>
<input type="text" id="phone" name="phone" autocomplete="tel">
<button type="submit">获取验证码</button>
</form>"""
    return page("统一身份认证登录", body, error=error, status=status)


def sms_page(
    issuer: str, resume: str, csrf: str, phone: str, *, error: str = "", status: int = 200
) -> HTMLResponse:
    body = f"""
<p class="hint">如手机号已注册，验证码已发送。</p>
<form method="post" action="{escape(issuer)}/login/sms">
{_hidden(resume=resume, csrf=csrf, phone=phone)}
<label for="code">短信验证码</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">登录</button>
</form>"""
    return page("短信验证码登录", body, error=error, status=status)


def totp_page(
    issuer: str, resume: str, csrf: str, challenge: str, *, error: str = "", status: int = 200
) -> HTMLResponse:
    body = f"""
<form method="post" action="{escape(issuer)}/login/totp">
{_hidden(resume=resume, csrf=csrf, challenge=challenge)}
<label for="code">动态口令 (TOTP)</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">验证</button>
</form>"""
    return page("二次验证", body, error=error, status=status)


def step_up_page(
    issuer: str, resume: str, csrf: str, level: str, *, error: str = "", status: int = 200
) -> HTMLResponse:
    body = f"""
<p class="hint">该业务要求认证等级 {escape(level)}：
需要将您的姓名和身份证号码提交公安人口库实名核验。</p>
<form method="post" action="{escape(issuer)}/login/step-up">
{_hidden(resume=resume, csrf=csrf)}
<button type="submit">同意并核验</button>
</form>"""
    return page("提升认证等级", body, error=error, status=status)


def message_page(title: str, text: str, status: int = 200) -> HTMLResponse:
    return page(title, f"<p>{escape(text)}</p>", status=status)
