#!/usr/bin/python3
"""A real org.freedesktop.Notifications server on the session bus, for tests.

It owns the name, answers like a desktop's notification daemon, and appends every Notify call
as one JSON line to the file given as its only argument. It prints "ready" once it owns the
name. A test clicks a notification by calling Click(id, action) on the interface
test.mailcanary.Clicker at the same path: the server emits ActionInvoked as a desktop would.
Needs python3-gi.
"""
import json
import sys

from gi.repository import Gio, GLib

XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
    <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
  </interface>
  <interface name="test.mailcanary.Clicker">
    <method name="Click"><arg type="u" direction="in"/><arg type="s" direction="in"/></method>
  </interface>
</node>
"""

out_path = sys.argv[1]
counter = [0]


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "Notify":
        app, replaces, icon, summary, body, actions, hints, timeout = params.unpack()
        counter[0] += 1
        urgency = hints.get("urgency")
        with open(out_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"app": app, "summary": summary, "body": body,
                                "urgency": urgency, "id": counter[0],
                                "actions": list(actions)}) + "\n")
        invocation.return_value(GLib.Variant("(u)", (counter[0],)))
    elif method == "GetCapabilities":
        invocation.return_value(GLib.Variant("(as)", (["body", "actions"],)))
    elif method == "GetServerInformation":
        invocation.return_value(GLib.Variant("(ssss)", ("test-server", "mailcanary", "1", "1.2")))
    elif method == "Click":
        nid, action = params.unpack()
        conn.emit_signal(None, "/org/freedesktop/Notifications",
                         "org.freedesktop.Notifications", "ActionInvoked",
                         GLib.Variant("(us)", (nid, action)))
        invocation.return_value(None)
    else:
        invocation.return_value(None)


def on_bus(conn, name):
    node = Gio.DBusNodeInfo.new_for_xml(XML)
    for iface in node.interfaces:
        conn.register_object("/org/freedesktop/Notifications", iface, on_call, None, None)


def on_name(conn, name):
    print("ready", flush=True)


Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.Notifications",
                 Gio.BusNameOwnerFlags.NONE, on_bus, on_name, lambda *a: sys.exit(1))
GLib.MainLoop().run()
