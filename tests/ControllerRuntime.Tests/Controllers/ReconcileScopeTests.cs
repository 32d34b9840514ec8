using ControllerRuntime.Controllers;
using ControllerRuntime.Metrics;
using ControllerRuntime.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace ControllerRuntime.Tests.Controllers;

public sealed class ReconcileScopeTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task ReconcileLogLinesCarryAReadableScopeInTheSimpleConsoleFormat()
    {
        var logger = new FormattingLogger();
        var reconciler = new FailingOnce();
        using var controller = new Controller(
            "grumodel", reconciler, new ControllerOptions { Workers = 1, ResyncPeriod = TimeSpan.Zero },
            new ControllerMetrics(_meters), TimeProvider.System, logger);
        using var cts = new CancellationTokenSource();
        var run = controller.RunAsync(cts.Token);

        controller.Enqueue("ml/session-recs");
        await Poll.UntilAsync(() => logger.Lines.Any(l => l.Contains("failed", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the failure log line");
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        var line = logger.Lines.Single(l => l.Contains("failed", StringComparison.Ordinal));
        Assert.Contains("=> Controller:grumodel Object:ml/session-recs ReconcileId:1", line, StringComparison.Ordinal);
        Assert.DoesNotContain("System.Collections", line, StringComparison.Ordinal);
    }

    [Fact]
    public void ScopeEnumeratesStructuredValues()
    {
        var scope = Assert.IsAssignableFrom<IReadOnlyList<KeyValuePair<string, object?>>>(new ReconcileScope("grumodel", null, "cluster-thing", 7));
        Assert.Equal(
            [new("Controller", "grumodel"), new("Namespace", null), new("Name", "cluster-thing"), new("ReconcileId", 7L)],
            scope.ToList());
        Assert.Equal("Controller:grumodel Object:cluster-thing ReconcileId:7", scope.ToString());
    }

    /// <summary>A logger that renders each entry with the real simple console formatter (as ConsoleLogger does).</summary>
    private sealed class FormattingLogger : ILogger
    {
        private readonly LoggerExternalScopeProvider _scopes = new();
        private readonly ConsoleFormatter _formatter;
        private readonly List<string> _lines = [];

        public FormattingLogger()
        {
            var services = new ServiceCollection().AddLogging(b => b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.IncludeScopes = true;
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            })).BuildServiceProvider();
            _formatter = services.GetServices<ConsoleFormatter>().Single(f => f.Name == ConsoleFormatterNames.Simple);
        }

        public IReadOnlyList<string> Lines
        {
            get { lock (_lines) return _lines.ToList(); }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => _scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            using var writer = new StringWriter();
            _formatter.Write(new LogEntry<TState>(logLevel, "test", eventId, state, null, formatter), _scopes, writer);
            lock (_lines) _lines.Add(writer.ToString());
        }
    }

    private sealed class FailingOnce : IReconciler
    {
        private int _attempts;

        public Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _attempts) == 1
                ? throw new HttpRequestException("API server unavailable")
                : Task.FromResult(ReconcileResult.Done);
    }
}
