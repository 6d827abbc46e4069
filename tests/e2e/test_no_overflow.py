"""Issue #14 item 9 in Chromium: every page each persona can reach, at 1280×900 and 390×844, fits
the window (no sideways scroll), no card spills its table, the desktop navigation is one row, and
no chart's label is cut off, tiny or on an odd tick. Pages are found by walking the links from home (tests/walker.py); one
page per route is opened, with its ids. Screenshots go to /tmp/shots/layout-<persona>-<size>-*.png.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve
from playwright.sync_api import Page

from tests.e2e.pages import screenshot
from tests.walker import build_busy_world, walk

PERSONAS = [
    "cbo_admin",
    "cbo_staff",
    "cbo_billing",
    "hub_billing",
    "plan_admin",
    "contract_manager",
    "care_coordinator",
    "platform_admin",
]
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}

# What a person would notice, measured the way the browser lays it out.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) problems.push(`page is ${doc.scrollWidth}px wide`);
  for (const card of document.querySelectorAll('.card')) {
    if (getComputedStyle(card).overflowX === 'visible' && card.scrollWidth > card.clientWidth + 1) {
      const title = (card.querySelector('h2, h3') || card).textContent.trim().slice(0, 40);
      problems.push(`card "${title}" spills by ${card.scrollWidth - card.clientWidth}px`);
    }
  }
  for (const badge of document.querySelectorAll('.badge')) {
    const style = getComputedStyle(badge), rect = badge.getBoundingClientRect();
    const oneLine = parseFloat(style.lineHeight || 0) || parseFloat(style.fontSize) * 1.5;
    if (rect.height > oneLine + 12) problems.push(`badge "${badge.textContent.trim()}" is ${Math.round(rect.height)}px tall`);
  }
  const items = [...document.querySelectorAll('.mainnav > ul > li')].filter(li => li.offsetParent);
  if (window.innerWidth >= 1024 && new Set(items.map(li => li.offsetTop)).size > 1)
    problems.push('main navigation wraps to a second row');
  for (const canvas of document.querySelectorAll('canvas[data-chart]')) {
    const chart = window.Chart && Chart.getChart(canvas);
    if (!chart) { problems.push(`chart ${canvas.dataset.chart} was not drawn`); continue; }
    if (canvas.clientHeight < 200) problems.push(`chart ${canvas.dataset.chart} is ${canvas.clientHeight}px tall`);
    for (const scale of Object.values(chart.scales)) {
      for (const item of scale.getLabelItems()) {
        chart.ctx.font = item.font.string;
        const width = chart.ctx.measureText(item.label).width;
        const [x] = item.options.translation;
        const left = item.options.textAlign === 'right' ? x - width : item.options.textAlign === 'center' ? x - width / 2 : x;
        if (left < -1 || left + width > chart.width + 1) problems.push(`chart label "${item.label}" is cut off`);
        if (item.font.size < 11) problems.push(`chart label "${item.label}" is ${item.font.size}px`);
      }
      if (scale.type === 'linear' && scale.ticks.length > 1) {
        const step = scale.ticks[1].value - scale.ticks[0].value;
        const mantissa = step / 10 ** Math.floor(Math.log10(step));
        if (![1, 2, 2.5, 5].some(m => Math.abs(m - mantissa) < 1e-9)) problems.push(`chart ticks step by ${step}`);
      }
    }
  }
  return problems;
}"""


def one_page_per_route(urls: list[str]) -> list[str]:
    """The first URL seen for each view: a second referral's page lays out as the first one's."""
    chosen: dict[str, str] = {}
    for url in urls:
        match = resolve(url.split("?")[0])
        chosen.setdefault(match.view_name, url)
    return list(chosen.values())


def sign_in_as(page: Page, base_url: str, user) -> None:
    """The session of a signed-in client, handed to the browser (two-factor set-up is its own test)."""
    client = Client()
    client.force_login(user)
    host = re.sub(r"^https?://|:\d+$", "", base_url)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "domain": host,
                "path": "/",
            }
        ]
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_fits_desktop_and_phone(page: Page, live_server, world, persona):
    build_busy_world(world)
    user = getattr(world, persona)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    seen, _ = walk(client)
    urls = one_page_per_route([url for url, status in seen.items() if status < 400])
    assert len(urls) > 3, urls
    sign_in_as(page, live_server.url, user)
    problems: dict[str, list[str]] = {}
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for index, url in enumerate(urls):
            page.goto(live_server.url + url)
            found = page.evaluate(LAYOUT_PROBLEMS)
            if found:
                problems[f"{size} {url}"] = found
                screenshot(page, f"layout-{persona}-{size}-{index}")
            elif index < 3 or "report" in url or "utilization" in url:
                screenshot(page, f"layout-{persona}-{size}-{index}")
    assert problems == {}, f"{persona}: {problems}"
