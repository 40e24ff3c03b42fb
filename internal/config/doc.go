// Package config loads a LiteLLM proxy config file (litellm_config.yaml) as it
// is, resolves environment references, fills defaults and validates it, with
// every error and warning pointing at file:line.
//
// # Sections
//
// The top-level keys are model_list, litellm_settings, router_settings,
// general_settings and environment_variables. Every key Switchyard knows is
// listed in one table (keys.go) with its status: supported (honoured),
// forwarded (a litellm_params key passed to the upstream as a request
// parameter), unsupported (ignored, with a warning that says what Switchyard
// does instead) or refused (loading fails). A key not in the table is reported
// as "unknown key X, ignored". Nothing is ignored silently.
//
// # Environment
//
// environment_variables: in the file are resolved first, in file order, and
// are visible to every later lookup (they win over the process environment,
// as in LiteLLM, which exports them). They are returned in Config.Environment;
// the package never calls os.Setenv.
//
// A string value may reference the environment in two ways:
//
//	os.environ/NAME          the whole value (LiteLLM's syntax)
//	${NAME}, ${NAME:-dflt}   anywhere inside a string; dflt is used when NAME
//	                         is unset or empty; $${ writes a literal ${
//
// # Missing variables
//
// A variable that is referenced but not set is handled like this:
//
//   - general_settings.master_key: an error. Switchyard refuses to start
//     without the authentication the file asks for.
//   - anywhere else: a warning naming file:line, the key and the variable; the
//     value becomes empty and loading goes on. A deployment whose api_key is
//     missing is still loaded (calls to it will be refused by the upstream);
//     a provider that needs an api_base still fails if the api_base is empty.
//
// When a deployment has no api_key, the provider's usual variable is consulted
// as LiteLLM does (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).
package config
