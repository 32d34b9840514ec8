using System.CommandLine;
using System.Text.Json;
using KubectlGru.Cluster;
using KubectlGru.Status;
using Spectre.Console;

namespace KubectlGru.Cli;

/// <summary>The `kubectl gru` command tree: list, status, history and the four rollout actions.</summary>
internal static class GruCommand
{
    /// <summary>Actions the operator understands through the serving.gru.dev/action annotation (docs/API.md).</summary>
    private static readonly (string Name, string Description)[] Actions =
    [
        ("promote", "Promote the running canary now, skipping the remaining steps"),
        ("abort", "Abort the running canary: all traffic back to stable"),
        ("resume", "Resume a paused rollout"),
        ("retry", "Retry a rolled-back revision"),
    ];

    public static RootCommand Build(IAnsiConsole console)
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)", Recursive = true };
        var context = new Option<string?>("--context") { Description = "The kubeconfig context to use", Recursive = true };
        var ns = new Option<string?>("--namespace", "-n") { Description = "Namespace (default: the context's, else default)", Recursive = true };
        var root = new RootCommand("kubectl gru: GruModel rollouts from the command line (status, history, promote, abort, resume, retry)");
        root.Options.Add(kubeconfig);
        root.Options.Add(context);
        root.Options.Add(ns);

        ClusterConnection Connect(ParseResult parse) => ClusterConnection.Open(parse.GetValue(kubeconfig), parse.GetValue(context), parse.GetValue(ns));

        var allNamespaces = new Option<bool>("--all-namespaces", "-A") { Description = "List GruModels in every namespace" };
        var list = new Command("list", "List GruModels: phase, stable model, canary weight and step, last verdict, ready replicas") { allNamespaces };
        list.SetAction((parse, ct) => RunAsync(console, async () =>
        {
            var connection = Connect(parse);
            var all = parse.GetValue(allNamespaces);
            var models = (await new GruModelApi(connection).ListAsync(all, ct)).Select(GruModelView.From).ToList();
            if (models.Count == 0)
            {
                console.WriteLine(all ? "No GruModels found." : $"No GruModels found in namespace {connection.Namespace}.");
                return;
            }

            console.Write(StatusRenderer.List(models, DateTimeOffset.UtcNow, all));
        }));
        root.Subcommands.Add(list);

        var statusName = NameArgument();
        var watch = new Option<bool>("--watch", "-w") { Description = "Keep showing the status as it changes, until Ctrl-C" };
        var status = new Command("status", "Show a GruModel's rollout: phase, step, weights, last analysis with its numbers, verification, history") { statusName, watch };
        status.SetAction((parse, ct) => RunAsync(console, async () =>
        {
            var api = new GruModelApi(Connect(parse));
            var name = parse.GetValue(statusName)!;
            if (!parse.GetValue(watch))
            {
                console.Write(StatusRenderer.Status(GruModelView.From(await api.GetAsync(name, ct))));
                return;
            }

            await WatchAsync(console, api, name, ct);
        }));
        root.Subcommands.Add(status);

        var historyName = NameArgument();
        var history = new Command("history", "Show a GruModel's finished rollouts (last 10)") { historyName };
        history.SetAction((parse, ct) => RunAsync(console, async () =>
            console.Write(StatusRenderer.History(GruModelView.From(await new GruModelApi(Connect(parse)).GetAsync(parse.GetValue(historyName)!, ct))))));
        root.Subcommands.Add(history);

        foreach (var (action, description) in Actions)
        {
            var name = NameArgument();
            var command = new Command(action, $"{description} (sets the {GruModelApi.ActionAnnotation} annotation; the operator acts once and removes it)") { name };
            command.SetAction((parse, ct) => RunAsync(console, async () =>
            {
                var api = new GruModelApi(Connect(parse));
                var model = GruModelView.From(await api.GetAsync(parse.GetValue(name)!, ct));
                if (model.PendingAction is { } pending && pending != action)
                {
                    console.WriteLine($"warning: replacing the pending action \"{pending}\", which the operator has not acted on yet");
                }

                await api.RequestActionAsync(model.Name, action, ct);
                console.WriteLine($"grumodel {model.Namespace}/{model.Name}: {action} requested ({GruModelApi.ActionAnnotation}={action}); phase was {model.Phase ?? "unknown"}. " +
                    $"Follow it with `kubectl gru status {model.Name} -n {model.Namespace} -w`.");
            }));
            root.Subcommands.Add(command);
        }

        return root;
    }

    private static Argument<string> NameArgument() => new("NAME") { Description = "The GruModel's name" };

    /// <summary>Runs a command; a <see cref="CommandException"/> becomes one "error:" line on stderr and exit code 1.</summary>
    private static async Task<int> RunAsync(IAnsiConsole console, Func<Task> body)
    {
        try
        {
            await body();
            return 0;
        }
        catch (CommandException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
        catch (k8s.Exceptions.KubeConfigException ex)
        {
            await Console.Error.WriteLineAsync($"error: kubeconfig: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 0; // Ctrl-C ends a watch: not an error
        }
    }

    /// <summary>
    /// Polls every 2 s and shows the status again whenever the object changed: redrawn in place on a terminal, appended
    /// with a time stamp when piped. Polling (not a watch) keeps it working through proxies that cut long requests.
    /// </summary>
    private static async Task WatchAsync(IAnsiConsole console, GruModelApi api, string name, CancellationToken ct)
    {
        var interactive = !Console.IsOutputRedirected;
        string? lastVersion = null;
        while (!ct.IsCancellationRequested)
        {
            var model = await api.GetAsync(name, ct);
            var version = model.GetProperty("metadata").TryGetProperty("resourceVersion", out var rv) ? rv.GetString() : JsonSerializer.Serialize(model);
            if (version != lastVersion)
            {
                lastVersion = version;
                if (interactive) console.Clear();
                else console.WriteLine($"--- {DateTimeOffset.Now:HH:mm:ss}");
                console.Write(StatusRenderer.Status(GruModelView.From(model)));
            }

            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
    }
}
