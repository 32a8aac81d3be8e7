"""Listings: the content plugin's push of checked content to the platforms, the pull of what the
platforms show (remote listings) and the audit of one against the other (issue 12 items 5–7;
docs/plugins/content.md "Listings").

Channels are reached only through ``app.channel(name)`` (the platform's ``channel`` key) and the
capabilities their channel declares: ``update_listings`` (``submit_listings`` /
``poll_listings``) and ``fetch_listings``. Nothing here names a marketplace's API.
"""
