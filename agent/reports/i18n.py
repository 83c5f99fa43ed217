"""Report texts in Portuguese (pt-PT, the default) and English, and number/date formatting.

The terms are those of semantics.md and the QUAR: disponibilidade, tempo de reposição,
abrangência, janelas de manutenção, registos de indisponibilidade, Superou / Atingiu / Não
atingiu, taxa de realização, meta, tolerância, valor crítico, peso.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from agent.i18n import LANGUAGES, Texts

__all__ = ["LANGUAGES", "REPORTS", "Formatter"]

_PT: dict[str, str | list[str]] = {
    "title_monthly": "Relatório mensal de disponibilidade (SLA)",
    "title_incident": "Revisão de incidente",
    "period": "Período",
    "generated": "Gerado em",
    "version": "Versão",
    "version_of": "versão {version} (cada nova geração do período tem a sua versão)",
    "title_quarterly": "Resumo trimestral QUAR",
    "quarter_months": "Meses do trimestre",
    "month": "Mês",
    "timezone": "Fuso horário",
    "no_data": "Sem dados para este período: nenhum serviço tem tempo observado. "
    "Os indicadores são N/A (nunca 100 %).",
    "quar": "QUAR — objetivo e indicadores",
    "indicator": "Indicador",
    "target": "Meta",
    "tolerance": "Tolerância",
    "critical": "Valor crítico",
    "weight": "Peso",
    "result": "Resultado",
    "tr": "Taxa de realização",
    "grade": "Classificação",
    "history": "Histórico (realizado)",
    "ind3": "Ind.3 — Disponibilidade média dos serviços",
    "ind4": "Ind.4 — Tempo médio de reposição",
    "coverage": "Abrangência de serviços monitorizados",
    "objective": "Objetivo",
    "superou": "Superou",
    "atingiu": "Atingiu",
    "nao_atingiu": "Não atingiu",
    "na": "N/A",
    "na_reason_missing": "sem resultado para",
    "ind4_stats": "Mediana {median}, percentil 90 {p90}, {count} incidentes",
    "by_macro": "Disponibilidade por macroserviço",
    "by_tier": "Disponibilidade por tier",
    "group": "Grupo",
    "services": "Serviços",
    "services_na": "Serviços N/A",
    "availability": "Disponibilidade",
    "down_min": "Indisponível (min)",
    "maint_min": "Manutenção (min)",
    "unknown_min": "Desconhecido (min)",
    "incidents": "Incidentes",
    "longest": "Incidente mais longo (min)",
    "per_service": "Disponibilidade por serviço",
    "service": "Serviço",
    "tier": "Tier",
    "macro": "Macroserviço",
    "monitored_no": "não monitorizado",
    "offenders": "Serviços com mais tempo de indisponibilidade",
    "platinum": "Registos de indisponibilidade — serviços platina do PCN",
    "started": "Início",
    "ended": "Fim",
    "restore": "Tempo de reposição",
    "against_meta": "Face à meta de {meta} min",
    "within": "dentro",
    "over": "acima",
    "open": "aberto no fim do período",
    "counted": "conta para o Ind.4",
    "not_counted": "não conta (aberto)",
    "none_platinum": "Sem incidentes em serviços platina do PCN neste período.",
    "windows": "Janelas de manutenção",
    "window_kind": "Tipo",
    "adhoc": "pontual",
    "recurring": "recorrente",
    "reason": "Motivo",
    "author": "Autor",
    "retroactive": "retroativa (não exclui tempo)",
    "planned": "planeada",
    "cancelled": "cancelada",
    "occurrences": "{count} ocorrências, {minutes} min",
    "none_windows": "Sem janelas de manutenção neste período.",
    "clock_steps": "Saltos do relógio",
    "quorum_locations": "Locais que formaram o quórum",
    "late_results": "Resultados tardios",
    "incident_retroactive": "retroativo: criado ou alterado por resultados que chegaram depois "
    "(spool de um local após um corte)",
    "location": "Local",
    "appendix_locations": "Anexo: sondas por local",
    "appendix_locations_note": "Percentagem de sondas bem-sucedidas (ok ou degradadas) de cada "
    "local de sondagem. Não é a disponibilidade: os indicadores QUAR usam o veredicto do serviço "
    "sobre todos os locais (quórum).",
    "probes": "Sondas",
    "probe_success": "Sucesso",
    "worst_services": "Serviços com mais falhas",
    "clock_steps_note": "O relógio do agente saltou; os resultados registados no intervalo "
    "suspeito podem ter horas erradas até ao tamanho do salto. A sondagem não parou.",
    "clock_step_at": "Quando",
    "clock_step_size": "Salto",
    "clock_step_suspect": "Intervalo suspeito",
    "coverage_section": "Abrangência",
    "not_covered": "Serviços não abrangidos (sem resultados no período)",
    "all_covered": "Todos os serviços do catálogo produziram resultados.",
    "charts": "Gráficos",
    "chart_daily": "Disponibilidade diária por tier",
    "chart_restore": "Distribuição dos tempos de reposição (platina PCN)",
    "chart_timeline": "Cronologia dos incidentes do mês",
    "day": "Dia",
    "minutes": "minutos",
    "count": "número",
    "methods": "Métodos",
    "methods_text": [
        "Disponibilidade = tempo disponível / (tempo disponível + tempo indisponível), por "
        "serviço, fora das janelas de manutenção planeadas e do tempo desconhecido; N/A quando "
        "não há tempo observado (nunca 100 %).",
        "Ind.3 = média das disponibilidades dos serviços monitorizados com disponibilidade "
        "conhecida; os serviços N/A são listados, não entram na média.",
        "Ind.4 = média dos tempos de reposição (fim − início, menos a sobreposição com "
        "manutenção planeada) dos incidentes fechados de serviços platina do PCN cujo fim cai "
        "no período, em minutos; incidentes abertos no fim do período são listados à parte.",
        "Abrangência = serviços do catálogo com resultados no período / serviços do catálogo.",
        "Início de um incidente = primeira sonda falhada; fim = primeira sonda bem-sucedida "
        "da série que confirmou a reposição.",
        "Tempo desconhecido: o agente não observava (paragem, silêncio das sondas, falha da "
        "sua própria conectividade); nunca conta como disponível nem como indisponível.",
        "Janelas retroativas (declaradas depois do início) são listadas mas não excluem tempo.",
        "Classificação (Lei 66-B/2007, art. 11.º): banda [meta − tolerância, meta + "
        "tolerância] = Atingiu; taxa de realização pelo método «{method}», teto {cap} %, "
        "declive {slope} %; o objetivo pondera os indicadores pelos pesos.",
    ],
    "review_fields": "Revisão",
    "cause": "Causa",
    "impact": "Impacto",
    "action": "Ações",
    "note": "Notas",
    "false_alarm": "Falso alarme",
    "not_filled": "por preencher",
    "pcn": "PCN",
    "yes": "sim",
    "no": "não",
    "depends_on": "Depende de",
    "root_cause": "Causa raiz (serviço pai em baixo)",
    "timeline": "Cronologia",
    "first_fail": "Primeira sonda falhada",
    "confirmed": "Confirmação (estado DOWN)",
    "first_ok": "Primeira sonda bem-sucedida",
    "end": "Fim",
    "annotation": "Anotação",
    "alerts": "Alertas enviados e reconhecimentos",
    "no_alerts": "sem alertas registados",
    "probes_around": "Resultados das sondas à volta do incidente",
    "check": "Verificação",
    "outcome": "Resultado",
    "latency": "Latência (ms)",
    "maintenance_overlap": "Sobreposição com manutenção planeada",
    "fragments": "Fragmentos agregados",
    "cause_recorded": "Causa registada",
    "annotations": "Anotações",
    "no_annotations": "Sem anotações.",
    "incident_open": "em curso",
    "budget": "Margem de indisponibilidade restante",
}

_EN: dict[str, str | list[str]] = {
    "title_monthly": "Monthly availability report (SLA)",
    "title_incident": "Incident review",
    "period": "Period",
    "generated": "Generated at",
    "version": "Version",
    "version_of": "version {version} (each new run for the period has its own version)",
    "title_quarterly": "Quarterly QUAR summary",
    "quarter_months": "Months of the quarter",
    "month": "Month",
    "timezone": "Time zone",
    "no_data": "No data for this period: no service has observed time. "
    "The indicators are N/A (never 100 %).",
    "quar": "QUAR — objective and indicators",
    "indicator": "Indicator",
    "target": "Target",
    "tolerance": "Tolerance",
    "critical": "Critical value",
    "weight": "Weight",
    "result": "Result",
    "tr": "Achievement rate",
    "grade": "Grade",
    "history": "History (realised)",
    "ind3": "Ind.3 — Mean service availability",
    "ind4": "Ind.4 — Mean restoration time",
    "coverage": "Monitoring coverage",
    "objective": "Objective",
    "superou": "Exceeded",
    "atingiu": "Achieved",
    "nao_atingiu": "Not achieved",
    "na": "N/A",
    "na_reason_missing": "no result for",
    "ind4_stats": "Median {median}, 90th percentile {p90}, {count} incidents",
    "by_macro": "Availability per macro service",
    "by_tier": "Availability per tier",
    "group": "Group",
    "services": "Services",
    "services_na": "Services N/A",
    "availability": "Availability",
    "down_min": "Down (min)",
    "maint_min": "Maintenance (min)",
    "unknown_min": "Unknown (min)",
    "incidents": "Incidents",
    "longest": "Longest incident (min)",
    "per_service": "Availability per service",
    "service": "Service",
    "tier": "Tier",
    "macro": "Macro service",
    "monitored_no": "not monitored",
    "offenders": "Services with the most down time",
    "platinum": "Outage records — platinum PCN services",
    "started": "Start",
    "ended": "End",
    "restore": "Restoration time",
    "against_meta": "Against the {meta} min target",
    "within": "within",
    "over": "over",
    "open": "open at the period's end",
    "counted": "counts for Ind.4",
    "not_counted": "not counted (open)",
    "none_platinum": "No incidents of platinum PCN services in this period.",
    "windows": "Maintenance windows",
    "window_kind": "Kind",
    "adhoc": "ad hoc",
    "recurring": "recurring",
    "reason": "Reason",
    "author": "Author",
    "retroactive": "retroactive (excludes no time)",
    "planned": "planned",
    "cancelled": "cancelled",
    "occurrences": "{count} occurrences, {minutes} min",
    "none_windows": "No maintenance windows in this period.",
    "clock_steps": "Clock steps",
    "quorum_locations": "Locations that formed the quorum",
    "late_results": "Late results",
    "incident_retroactive": "retroactive: created or changed by results that arrived later "
    "(a location's spool after a cut)",
    "location": "Location",
    "appendix_locations": "Appendix: probes by location",
    "appendix_locations_note": "Share of probes that succeeded (ok or degraded) at each probe "
    "location. Not the availability: the QUAR figures use the service verdict over all "
    "locations (the quorum).",
    "probes": "Probes",
    "probe_success": "Success",
    "worst_services": "Services failing most",
    "clock_steps_note": "The agent's wall clock stepped; results stamped in the suspect interval "
    "may carry times off by up to the step's size. Probing did not stop.",
    "clock_step_at": "When",
    "clock_step_size": "Step",
    "clock_step_suspect": "Suspect interval",
    "coverage_section": "Coverage",
    "not_covered": "Services not covered (no results in the period)",
    "all_covered": "Every catalogue service produced results.",
    "charts": "Charts",
    "chart_daily": "Daily availability per tier",
    "chart_restore": "Restoration time distribution (platinum PCN)",
    "chart_timeline": "Incident timeline of the month",
    "day": "Day",
    "minutes": "minutes",
    "count": "count",
    "methods": "Methods",
    "methods_text": [
        "Availability = up time / (up time + down time), per service, outside planned "
        "maintenance and unknown time; N/A when no time was observed (never 100 %).",
        "Ind.3 = mean of the availabilities of the monitored services with a known "
        "availability; N/A services are listed, not averaged.",
        "Ind.4 = mean restoration time (end − start, minus the overlap with planned "
        "maintenance) of the closed incidents of platinum PCN services that ended in the "
        "period, in minutes; incidents open at the period's end are listed apart.",
        "Coverage = catalogue services with results in the period / catalogue services.",
        "An incident starts at the first failing probe and ends at the first good probe of "
        "the run that confirmed recovery.",
        "Unknown time: the agent was not observing (stopped, probes silent, its own "
        "connectivity failed); it never counts as up nor as down.",
        "Retroactive windows (declared after they started) are listed but exclude no time.",
        "Grading (Lei 66-B/2007, art. 11): band [target − tolerance, target + tolerance] = "
        "Achieved; achievement rate by the «{method}» method, cap {cap} %, slope {slope} %; "
        "the objective weighs its indicators by their weights.",
    ],
    "review_fields": "Review",
    "cause": "Cause",
    "impact": "Impact",
    "action": "Actions",
    "note": "Notes",
    "false_alarm": "False alarm",
    "not_filled": "to be filled in",
    "pcn": "PCN",
    "yes": "yes",
    "no": "no",
    "depends_on": "Depends on",
    "root_cause": "Root cause (parent service down)",
    "timeline": "Timeline",
    "first_fail": "First failing probe",
    "confirmed": "Confirmation (DOWN state)",
    "first_ok": "First good probe",
    "end": "End",
    "annotation": "Annotation",
    "alerts": "Alerts sent and acknowledgements",
    "no_alerts": "no alerts recorded",
    "probes_around": "Probe results around the incident",
    "check": "Check",
    "outcome": "Outcome",
    "latency": "Latency (ms)",
    "maintenance_overlap": "Overlap with planned maintenance",
    "fragments": "Merged fragments",
    "cause_recorded": "Recorded cause",
    "annotations": "Annotations",
    "no_annotations": "No annotations.",
    "incident_open": "ongoing",
    "budget": "Downtime budget left",
}

REPORTS = Texts("reports", {"pt": _PT, "en": _EN})


@dataclass(frozen=True)
class Formatter:
    """Numbers and instants as a reader of `lang` expects them, in the report's time zone."""

    lang: str
    zone: tzinfo

    @classmethod
    def of(cls, lang: str, timezone: str) -> Formatter:
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        return cls(lang, ZoneInfo(timezone))

    def t(self, key: str, **values: object) -> str:
        return REPORTS.text(self.lang, key, **values)

    def lines(self, key: str, **values: object) -> list[str]:
        entries = REPORTS.lookup(self.lang, key)
        assert isinstance(entries, list)
        return [str(e).format(**values) for e in entries]

    def number(self, value: float | None, digits: int = 2) -> str:
        if value is None:
            return self.t("na")
        text = f"{value:,.{digits}f}"
        if self.lang == "pt":  # 1 234,56 (pt-PT: space for thousands, comma for decimals)
            text = text.replace(",", "\u202f").replace(".", ",")
        return text

    def pct(self, value: float | None, digits: int = 3) -> str:
        return self.t("na") if value is None else f"{self.number(value, digits)} %"

    def minutes(self, seconds: float | None, digits: int = 1) -> str:
        return self.number(None if seconds is None else seconds / 60, digits)

    def grade(self, grade: object) -> str:
        return self.t("na") if grade is None else self.t(str(grade))

    def when(self, moment: datetime | None, seconds: bool = False) -> str:
        if moment is None:
            return "—"
        local = moment.astimezone(self.zone)
        return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
