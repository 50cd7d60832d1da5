"""Interface strings in Simplified Chinese (default) and English."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "portal.title": {
        "zh-CN": "普惠 · 小微企业线上贷款",
        "en": "Puhui · Online loans for small businesses",
    },
    "portal.tagline": {
        "zh-CN": "数据驱动、秒级审批、线上签约、贷后有保障。",
        "en": "Data-driven, decided in seconds, signed online, with your rights protected.",
    },
    "portal.login": {"zh-CN": "手机号登录 / 注册", "en": "Log in or register with your phone"},
    "portal.phone": {"zh-CN": "手机号码", "en": "Mobile number"},
    "portal.send_code": {"zh-CN": "获取验证码", "en": "Send code"},
    "portal.code": {"zh-CN": "短信验证码", "en": "SMS code"},
    "portal.code_sent": {
        "zh-CN": "验证码已发送（沙箱：见 var/sms-sandbox.log）。",
        "en": "Code sent (sandbox: see var/sms-sandbox.log).",
    },
    "portal.submit": {"zh-CN": "登录", "en": "Log in"},
    "portal.me": {"zh-CN": "我的", "en": "My account"},
    "portal.identity": {"zh-CN": "实名认证", "en": "Real-name verification"},
    "portal.name": {"zh-CN": "姓名", "en": "Full name"},
    "portal.id_number": {"zh-CN": "居民身份证号码", "en": "Resident ID number"},
    "portal.save": {"zh-CN": "提交", "en": "Submit"},
    "portal.verified": {"zh-CN": "已实名", "en": "Verified"},
    "portal.unverified": {"zh-CN": "未实名", "en": "Not verified"},
    "portal.logout": {"zh-CN": "退出", "en": "Log out"},
    "portal.features": {
        "zh-CN": "手机号加短信验证码即可登录；您的个人信息加密存储、脱敏展示。",
        "en": "Log in with your phone and a one-time code; "
        "your personal data is encrypted and shown masked.",
    },
    "portal.switch": {"zh-CN": "English", "en": "中文"},
}


def t(key: str, lang: str) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["zh-CN"]
