using KubectlGru.Cli;
using Spectre.Console;

var console = AnsiConsole.Create(new AnsiConsoleSettings());
if (Console.IsOutputRedirected)
{
    // Piped or captured: no wrapping at 80 columns, so tables stay one row per line for grep and tests.
    console.Profile.Width = 240;
}

return await GruCommand.Build(console).Parse(args).InvokeAsync();
