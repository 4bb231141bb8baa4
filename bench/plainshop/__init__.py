"""The reference shop written without Seams: what a team would write in one plain Django app.

The same models and the same steps as ``modules/`` (price the lines, store a pending order, reserve
the stock all or nothing, confirm or cancel, email the customer once), with direct function calls
and Django signals whose receivers run ``on_commit``, in one database (``default``) and with no
outbox, inbox, retries or relay. ``bench/shop.py`` measures it next to the Seams shop. Installed
only by ``bench.shop_settings``; never used outside the bench.
"""
