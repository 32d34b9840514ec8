namespace GruOperator.Providers; internal static class Placeholder;
