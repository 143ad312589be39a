"""`make up`, `make down` and `make status`: the project's stacks deployed with Pulumi's Automation API.

    python -m deploy up --stack NAME [--yes] [--local]
    python -m deploy down --stack NAME [--yes]
    python -m deploy status --stack NAME [--json]

- `flow`: the steps and every line they say, against small interfaces (tests give fakes);
- `engine`: Pulumi through `pulumi.automation` (the CLI found or built, the backend, the stack);
- `guard`: the local clusters watched while pulumi runs on them, pulumi stopped gently when they die;
- `procs`: the run's processes through /proc (the run token, the sweep);
- `context`: the kube context, and whether it answers;
- `wiring`: the real parts behind `flow`'s interfaces (the sandbox's clusters and tools, `engine`).
"""
