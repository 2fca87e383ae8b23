/* Listener transport options: TLS settings, socket_domain, bind_interface,
 * and the combinations conf_finish refuses. */
#include "conf_fixture.h"
#include "config/conf.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(conf_tls, .init = conf_fixture_setup, .fini = conf_fixture_teardown);

/* Load and finish text into a fresh c; the return code of whichever failed. */
static int load_finish(const char *text)
{
	conf_fini(&c);
	conf_init(&c);
	memset(&eb, 0, sizeof(eb));
	int rc = conf_load_string(&c, "t.conf", text, &eb);
	return rc == FM_OK ? conf_finish(&c, &eb) : rc;
}

static void expect_refused(const char *text, const char *what)
{
	cr_assert_eq(load_finish(text), FM_ECONFIG, "accepted: %s", text);
	cr_assert(strstr(eb.msg, what), "'%s' not in '%s'", what, eb.msg);
}

Test(conf_tls, listener_options_belong_to_their_listener)
{
	cr_assert_eq(load_finish("listener 1883\n"
				 "listener 8883 127.0.0.1\n"
				 "certfile /s.crt\nkeyfile /s.key\ncafile /ca.crt\ncapath /cas\n"
				 "crlfile /ca.crl\nrequire_certificate true\nuse_identity_as_username true\n"
				 "tls_version tlsv1.2\nciphers TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256\n"
				 "socket_domain ipv4\nbind_interface lo\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 2);
	const struct conf_listener *plain = &c.listeners[0], *tls = &c.listeners[1];
	cr_assert_not(conf_listener_tls(plain));
	cr_assert_null(plain->tls.certfile);
	cr_assert(conf_listener_tls(tls));
	cr_assert_str_eq(tls->tls.certfile, "/s.crt");
	cr_assert_str_eq(tls->tls.keyfile, "/s.key");
	cr_assert_str_eq(tls->tls.cafile, "/ca.crt");
	cr_assert_str_eq(tls->tls.capath, "/cas");
	cr_assert_str_eq(tls->tls.crlfile, "/ca.crl");
	cr_assert_str_eq(tls->tls.tls_version, "tlsv1.2");
	cr_assert_str_eq(tls->tls.ciphers, "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256");
	cr_assert(tls->tls.require_certificate);
	cr_assert(tls->tls.use_identity_as_username);
	cr_assert_not(tls->tls.use_subject_as_username);
	cr_assert_eq(tls->socket_domain, CONF_DOMAIN_IPV4);
	cr_assert_str_eq(tls->bind_interface, "lo");
}

Test(conf_tls, before_any_listener_they_configure_the_default_one)
{
	/* as in mosquitto: listener options at the top apply to the default listener */
	cr_assert_eq(load_finish("port 8883\ncertfile /s.crt\nkeyfile /s.key\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 8883);
	cr_assert(conf_listener_tls(&c.listeners[0]));
}

Test(conf_tls, psk_file_is_global_unless_per_listener_settings)
{
	cr_assert_eq(load_finish("psk_file /g.psk\nlistener 8883\npsk_hint fleet\n"), FM_OK, "%s", eb.msg);
	cr_assert_str_eq(conf_listener_psk_file(&c, &c.listeners[0]), "/g.psk");
	cr_assert(conf_listener_tls(&c.listeners[0]), "psk_hint alone makes a TLS (PSK) listener");
	cr_assert_eq(load_finish("per_listener_settings true\npsk_file /g.psk\n"
				 "listener 8883\npsk_hint a\npsk_file /a.psk\n"
				 "listener 8884\npsk_hint b\n"), FM_OK, "%s", eb.msg);
	cr_assert_str_eq(conf_listener_psk_file(&c, &c.listeners[0]), "/a.psk");
	cr_assert_str_eq(conf_listener_psk_file(&c, &c.listeners[1]), "/g.psk");
}

Test(conf_tls, bad_values_name_file_line_and_option)
{
	cr_assert_eq(load_finish("listener 8883\nrequire_certificate yes\n"), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "t.conf:2: option 'require_certificate': 'yes' is not true or false"), "%s", eb.msg);
	cr_assert_eq(load_finish("listener 8883\nsocket_domain ipx\n"), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "t.conf:2: option 'socket_domain'"), "%s", eb.msg);
	cr_assert_eq(load_finish("listener 8883\ncertfile\n"), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "t.conf:2: option 'certfile' needs a value"), "%s", eb.msg);
	cr_assert_eq(load_finish("listener 8883\ncertfile a b\n"), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "t.conf:2: option 'certfile': too many values"), "%s", eb.msg);
}

Test(conf_tls, combinations_that_cannot_work_are_refused_naming_the_listener)
{
	expect_refused("listener 8883\ncertfile /s.crt\n", "t.conf:1: listener 8883: certfile is set but keyfile is not");
	expect_refused("listener 8883\nkeyfile /s.key\n", "keyfile is set but certfile is not");
	expect_refused("listener 8883\ncafile /ca.crt\n", "'cafile' is set but the listener has no certfile");
	expect_refused("listener 8883\nrequire_certificate true\n", "'require_certificate' is set but");
	expect_refused("listener 8883\ncertfile /s\nkeyfile /k\nrequire_certificate true\n",
		       "require_certificate needs cafile or capath");
	expect_refused("listener 8883\npsk_hint x\n", "psk_hint is set but there is no psk_file");
	expect_refused("listener 8883\npsk_hint x\ncafile /ca\n", "cafile/capath/crlfile need certfile and keyfile");
	expect_refused("psk_file /p\nlistener 8883\npsk_hint x\nuse_identity_as_username true\n"
		       "use_subject_as_username true\n", "exclude each other");
	/* a plain listener next to a TLS one is fine */
	cr_assert_eq(load_finish("listener 1883\nlistener 8883\ncertfile /s\nkeyfile /k\n"), FM_OK, "%s", eb.msg);
}

Test(conf_tls, websockets_listener_options)
{
	cr_assert_eq(load_finish("listener 8083\nprotocol websockets\nwebsockets_path /mqtt\n"
				 "websockets_trust_x_forwarded_for true\nwebsockets_headers_size 8192\n"), FM_OK, "%s", eb.msg);
	const struct conf_listener *l = &c.listeners[0];
	cr_assert_eq(l->protocol, CONF_PROTO_WEBSOCKETS);
	cr_assert_str_eq(l->websockets_path, "/mqtt");
	cr_assert(l->websockets_trust_x_forwarded_for);
	cr_assert_eq(l->websockets_headers_size, 8192);
	expect_refused("listener 8083\nprotocol websockets\nwebsockets_path mqtt\n", "does not start with '/'");
	expect_refused("listener 8083\nprotocol websockets\nwebsockets_headers_size 10\n", "is not 1024..65535");
	expect_refused("listener 1883\nwebsockets_path /mqtt\n", "websockets_* options need 'protocol websockets'");
}

Test(conf_tls, wss_refuses_what_libwebsockets_tls_cannot_do)
{
	expect_refused("psk_file /p\nlistener 8084\nprotocol websockets\npsk_hint x\n",
		       "psk_hint is not available on a websockets listener");
	expect_refused("listener 8084\nprotocol websockets\ncertfile /s\nkeyfile /k\ncrlfile /c\n",
		       "crlfile is not available on a websockets listener");
	expect_refused("listener 8084\nprotocol websockets\ncertfile /s\nkeyfile /k\ncafile /ca\n"
		       "require_certificate true\nuse_subject_as_username true\n",
		       "use_subject_as_username is not available");
	cr_assert_eq(load_finish("listener 8084\nprotocol websockets\ncertfile /s\nkeyfile /k\ncafile /ca\n"
				 "require_certificate true\nuse_identity_as_username true\n"), FM_OK, "%s", eb.msg);
}

Test(conf_tls, password_and_acl_files_global_or_per_listener)
{
	cr_assert_eq(load_finish("password_file /g.pw\nacl_file /g.acl\nlistener 1883\nlistener 1884\n"
				 "password_file /ignored.pw\n"), FM_OK, "%s", eb.msg);
	/* without per_listener_settings a line inside a listener is the global one (mosquitto) */
	cr_assert_str_eq(conf_listener_password_file(&c, &c.listeners[0]), "/ignored.pw");
	cr_assert_str_eq(conf_listener_acl_file(&c, &c.listeners[1]), "/g.acl");
	cr_assert_eq(load_finish("per_listener_settings true\npassword_file /g.pw\n"
				 "listener 1883\nlistener 1884\npassword_file /b.pw\nacl_file /b.acl\n"), FM_OK, "%s", eb.msg);
	cr_assert_str_eq(conf_listener_password_file(&c, &c.listeners[0]), "/g.pw");
	cr_assert_null(conf_listener_acl_file(&c, &c.listeners[0]));
	cr_assert_str_eq(conf_listener_password_file(&c, &c.listeners[1]), "/b.pw");
	cr_assert_str_eq(conf_listener_acl_file(&c, &c.listeners[1]), "/b.acl");
}

Test(conf_tls, a_reload_takes_the_new_file_names)
{
	struct conf fresh;
	conf_init(&fresh);
	cr_assert_eq(load_finish("password_file /old.pw\nlistener 1883\n"), FM_OK);
	cr_assert_eq(conf_load_string(&fresh, "t.conf", "password_file /new.pw\nacl_file /new.acl\nlistener 1883\n", &eb), FM_OK);
	cr_assert_eq(conf_finish(&fresh, &eb), FM_OK);
	conf_apply_reloadable(&c, &fresh);
	cr_assert_str_eq(c.password_file, "/new.pw");
	cr_assert_str_eq(c.acl_file, "/new.acl");
	cr_assert_str_eq(fresh.password_file, "/old.pw", "swapped: fresh frees the old names");
	conf_fini(&fresh);
}

Test(conf_tls, proxy_protocol_and_one_wss_listener)
{
	cr_assert_eq(load_finish("listener 1883\nenable_proxy_protocol 2\nlistener 1884\nenable_proxy_protocol 1\n"), FM_OK,
		     "%s", eb.msg);
	cr_assert_eq(c.listeners[0].proxy_protocol, 2);
	cr_assert_eq(c.listeners[1].proxy_protocol, 1);
	expect_refused("listener 1883\nenable_proxy_protocol 3\n", "'3' is not 1 or 2");
	expect_refused("listener 8084\nprotocol websockets\ncertfile /s\nkeyfile /k\n"
		       "listener 8085\nprotocol websockets\ncertfile /s2\nkeyfile /k2\n",
		       "t.conf:5: listener 8085: only one websockets listener with TLS is supported");
}
