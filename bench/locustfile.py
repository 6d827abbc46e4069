"""The load test's simulated users (driven by bench/load_web.py): each signs in once through
the login form as one of the bench personas, then asks for one page or endpoint a second.

The figures cover steady browsing only: signing in is slow on purpose (a password hash takes
about half a second of CPU, 50 of them a while on two cores), and the users who signed in first
queue page requests meanwhile. So the stats start again from zero ``WARM_UP`` seconds after the
last user has signed in, when that queue has drained.

Cookies are sent by hand: with DEBUG off the session cookie is ``Secure`` and the benchmark talks
plain HTTP to gunicorn on loopback."""

from __future__ import annotations

import itertools
import os
import random
import re

import gevent
from locust import HttpUser, constant_pacing, task

USERS = os.environ["BENCH_USERS"].split(",")  # usernames, one per persona
PASSWORD = os.environ["BENCH_PASSWORD"]
URLS = os.environ["BENCH_URLS"].split("|")
USER_COUNT = int(os.environ["BENCH_USER_COUNT"])
WARM_UP = 15
_next = itertools.count()
_signed_in = itertools.count(1)


class PortalUser(HttpUser):
    wait_time = constant_pacing(1)

    def on_start(self) -> None:
        username = USERS[next(_next) % len(USERS)]
        page = self.client.get("/login/", name="sign in (form)")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        csrf = page.cookies.get("csrftoken")
        response = self.client.post(
            "/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Cookie": f"csrftoken={csrf}"},
            allow_redirects=False,
            name="sign in",
        )
        session = response.cookies.get("sessionid")
        if response.status_code != 302 or not session:
            raise RuntimeError(f"sign-in as {username} failed: HTTP {response.status_code}")
        self.client.cookies.clear()
        self.headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}"}
        if next(_signed_in) == USER_COUNT:
            gevent.spawn_later(WARM_UP, self.environment.stats.reset_all)

    @task
    def browse(self) -> None:
        url = random.choice(URLS)
        with self.client.get(
            url, headers=self.headers, name=url, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
