using GruOperator.Hosting;

var command = OperatorCommand.Create((flags, cancellationToken) => OperatorProcess.RunAsync(flags, Console.Error, cancellationToken));
return await OperatorCommand.InvokeAsync(command, args, Console.Out, Console.Error).ConfigureAwait(false);
